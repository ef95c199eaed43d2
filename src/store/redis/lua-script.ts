// A Lua script run by EVALSHA, falling back to EVAL (which also caches it on the server) when
// the server does not know it yet — after a restart or a SCRIPT FLUSH.
//
// Why not ioredis' defineCommand: every auto-pipelined batch builds an ioredis Pipeline, and a
// Pipeline copies each defined command onto itself (two properties per script). With some twenty
// scripts that copy was the largest allocation and a visible CPU cost on the click-to-call path.
// EVALSHA is a built-in command, so a batch costs the same however many scripts there are.

import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
    /** null: any number of keys (the script reads #KEYS) */
    readonly numberOfKeys: number | null,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  run(redis: Redis | Cluster, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (this.numberOfKeys !== null && keys.length !== this.numberOfKeys) {
      return Promise.reject(new Error(`Lua script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`));
    }
    return redis.evalsha(this.sha, keys.length, ...keys, ...args).catch((e: Error) => {
      if (!e.message?.startsWith('NOSCRIPT')) throw e;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    });
  }
}
