// Loads the Lua scripts of ./lua (one file per named script, lib.lua prepended to each) as
// LuaScripts, run by EVALSHA with EVAL as the fallback.
// The .lua files stay in src/: from dist/src/store/redis (after `tsc`) they are found through the
// fallback path, so ship src/store/redis/lua beside dist in an image.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LuaScript } from './lua-script.js';

/** Script name → number of KEYS it declares (null: a variable number, e.g. the calls it purges). */
export const SCRIPTS = {
  put_user: 10,
  get_users: 3,
  delete_user: 10,
  page_users: 3,
  org_config: 4,
  create_provider: 3,
  update_provider: 5,
  delete_provider: 7,
  assign_users: 4,
  unassign_user: 3,
  move_user: 7,
  install_all: 5,
  click: 17,
  inbound: 9,
  create_call: 5,
  transition: 10,
  reassign_call: 2,
  call_log_context: 4,
  set_crm_log: 3,
  update_call: 4,
  purge_calls: null,
  take_limits: 2,
  sweep_buckets: 1,
  sweep_caller_ids: 1,
  breaker: 1,
  release_lock: 1,
  renew_lock: 1,
  cost_record: 3,
  delete_api_key: 2,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

const CANDIDATES = ['./lua/', '../../../../src/store/redis/lua/'];

export function luaDir(): string {
  for (const rel of CANDIDATES) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}lib.lua`)) return dir;
  }
  throw new Error(`dialgate: the Redis store's Lua scripts were not found (looked for src/store/redis/lua from ${import.meta.url})`);
}

let cache: Map<ScriptName, string> | null = null;

export function loadScripts(): Map<ScriptName, string> {
  if (cache) return cache;
  const dir = luaDir();
  const lib = readFileSync(`${dir}lib.lua`, 'utf8');
  const out = new Map<ScriptName, string>();
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    out.set(name, `${lib}\n${readFileSync(`${dir}${name}.lua`, 'utf8')}`);
  }
  cache = out;
  return out;
}

let compiled: Map<ScriptName, LuaScript> | null = null;

/** Every script of ./lua, ready to run (loaded once per process). */
export function luaScripts(): Map<ScriptName, LuaScript> {
  if (compiled) return compiled;
  const out = new Map<ScriptName, LuaScript>();
  for (const [name, lua] of loadScripts()) out.set(name, new LuaScript(name, lua, SCRIPTS[name]));
  compiled = out;
  return out;
}
