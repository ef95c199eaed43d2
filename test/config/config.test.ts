// loadConfig: defaults, every bad value refused with one line naming the setting, the optional
// JSON file (config/dialgate.example.json documents every setting) merged under the environment.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const EXAMPLE = resolve(import.meta.dirname, '../../config/dialgate.example.json');
const TOKEN = 'operator-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'dialgate-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: string): string {
  const p = join(dir, `c${n++}.json`);
  writeFileSync(p, content);
  return p;
}

/** loadConfig must refuse with a ConfigError naming `setting`, in one line. */
function refuses(env: Record<string, string>, setting: string, mentions?: RegExp): ConfigError {
  let err: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(env)}, got ${err === undefined ? 'no error' : String(err)}`);
  assert.equal(err.setting, setting);
  assert.ok(err.message.startsWith(`${setting}:`), `the message starts with the setting: ${err.message}`);
  assert.ok(!err.message.includes('\n'), `one line: ${JSON.stringify(err.message)}`);
  // one line even when it lists every known setting of the config file (twenty of them)
  assert.ok(err.message.length < 500, 'a short line');
  if (mentions) assert.match(err.message, mentions);
  return err;
}

describe('loadConfig defaults', () => {
  test('an empty environment is local mode with a generated operator token', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.backend.redis?.url, undefined);
    assert.equal(c.publicUrl, undefined);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.inProcessWorker, true);
    assert.equal(c.workerConcurrency, 8);
    assert.equal(c.bodyLimit, 256 * 1024);
    assert.equal(c.shutdownTimeoutMs, 10_000);
    assert.equal(c.backend.queuePrefix, '{dialgate}');
    assert.equal(c.adminTokenGenerated, true);
    assert.ok(c.adminToken.length >= 32, 'a generated token is long');
    assert.notEqual(loadConfig({}).adminToken, c.adminToken, 'generated fresh each start');
  });

  test('every setting read from the environment', () => {
    const c = loadConfig({
      PORT: '9090',
      HOST: '127.0.0.1',
      REDIS_URL: 'rediss://user:pw@redis.internal:6380/2',
      DIALGATE_ADMIN_TOKEN: TOKEN,
      PUBLIC_URL: 'https://gw.example.com/base/',
      LOG_LEVEL: 'DEBUG',
      DIALGATE_IN_PROCESS_WORKER: 'false',
      WORKER_CONCURRENCY: '3',
      DIALGATE_BODY_LIMIT: '1048576',
      DIALGATE_SHUTDOWN_TIMEOUT_MS: '5000',
      DIALGATE_QUEUE_PREFIX: '{dg-prod}',
    });
    assert.equal(c.port, 9090);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.backend.redis?.url, 'rediss://user:pw@redis.internal:6380/2');
    assert.equal(c.adminToken, TOKEN);
    assert.equal(c.adminTokenGenerated, false);
    assert.equal(c.publicUrl, 'https://gw.example.com/base', 'a trailing slash is dropped so webhook URLs join cleanly');
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.inProcessWorker, false);
    assert.equal(c.workerConcurrency, 3);
    assert.equal(c.bodyLimit, 1048576);
    assert.equal(c.shutdownTimeoutMs, 5000);
    assert.equal(c.backend.queuePrefix, '{dg-prod}');
  });

  test('empty values mean the default', () => {
    const c = loadConfig({ PORT: '', REDIS_URL: '', LOG_LEVEL: undefined as unknown as string, HOST: '  ' });
    assert.equal(c.port, 8080);
    assert.equal(c.backend.redis?.url, undefined);
    assert.equal(c.host, '0.0.0.0');
  });
});

describe('loadConfig refuses bad values with one line naming the setting', () => {
  test('PORT', () => {
    refuses({ PORT: 'abc' }, 'PORT', /abc/);
    refuses({ PORT: '70000' }, 'PORT', /65535/);
    refuses({ PORT: '-1' }, 'PORT');
    refuses({ PORT: '80.5' }, 'PORT');
    refuses({ PORT: '8080x' }, 'PORT');
  });

  test('REDIS_URL', () => {
    refuses({ REDIS_URL: 'http://x', DIALGATE_ADMIN_TOKEN: TOKEN }, 'REDIS_URL', /redis:/);
    refuses({ REDIS_URL: 'localhost:6379', DIALGATE_ADMIN_TOKEN: TOKEN }, 'REDIS_URL');
    refuses({ REDIS_URL: 'not a url', DIALGATE_ADMIN_TOKEN: TOKEN }, 'REDIS_URL');
  });

  test('REDIS_URL never shows its password in the error', () => {
    const e = refuses({ REDIS_URL: 'http://user:hunter2-secret@x', DIALGATE_ADMIN_TOKEN: TOKEN }, 'REDIS_URL');
    assert.ok(!e.message.includes('hunter2-secret'), e.message);
  });

  test('LOG_LEVEL', () => {
    refuses({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /loud/);
    refuses({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', /info/);
  });

  test('DIALGATE_ADMIN_TOKEN: too short, or missing while REDIS_URL is set; never echoed', () => {
    const e = refuses({ DIALGATE_ADMIN_TOKEN: 'short-secret' }, 'DIALGATE_ADMIN_TOKEN', /16/);
    assert.ok(!e.message.includes('short-secret'), 'the token is not echoed');
    refuses({ REDIS_URL: 'redis://127.0.0.1:6379' }, 'DIALGATE_ADMIN_TOKEN', /REDIS_URL/);
    refuses({ REDIS_URL: 'redis://127.0.0.1:6379', DIALGATE_ADMIN_TOKEN: '' }, 'DIALGATE_ADMIN_TOKEN');
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', DIALGATE_ADMIN_TOKEN: TOKEN }).adminToken, TOKEN);
  });

  test('PUBLIC_URL, booleans, numbers, queue prefix', () => {
    refuses({ PUBLIC_URL: 'ftp://gw.example.com' }, 'PUBLIC_URL', /http/);
    refuses({ PUBLIC_URL: 'gw.example.com' }, 'PUBLIC_URL');
    refuses({ DIALGATE_IN_PROCESS_WORKER: 'maybe' }, 'DIALGATE_IN_PROCESS_WORKER', /true or false/);
    refuses({ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY');
    refuses({ WORKER_CONCURRENCY: 'many' }, 'WORKER_CONCURRENCY');
    refuses({ DIALGATE_BODY_LIMIT: '10' }, 'DIALGATE_BODY_LIMIT');
    refuses({ DIALGATE_SHUTDOWN_TIMEOUT_MS: 'soon' }, 'DIALGATE_SHUTDOWN_TIMEOUT_MS');
    refuses({ DIALGATE_QUEUE_PREFIX: 'dialgate' }, 'DIALGATE_QUEUE_PREFIX', /hash tag/);
    for (const [k, v] of [['DIALGATE_IN_PROCESS_WORKER', 'yes'], ['DIALGATE_IN_PROCESS_WORKER', '0'], ['LOG_LEVEL', 'silent']]) {
      assert.doesNotThrow(() => loadConfig({ [k]: v }));
    }
  });
});

describe('the config file', () => {
  test('config/dialgate.example.json documents every setting the file may hold, and loads', () => {
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8'));
    // the loader lists the settings it knows when it meets an unknown one
    const e = refuses({ DIALGATE_CONFIG: file('{"noSuchSetting": 1}') }, 'DIALGATE_CONFIG', /noSuchSetting/);
    const known = /known: ([^)]+)\)/.exec(e.message)?.[1].split(',').map((s) => s.trim());
    assert.ok(known && known.length >= 8, `the error lists the known settings: ${e.message}`);
    assert.deepEqual(Object.keys(example).sort(), [...known].sort(), 'the example holds every setting, and only those');
    const c = loadConfig({ DIALGATE_CONFIG: EXAMPLE, DIALGATE_ADMIN_TOKEN: TOKEN });
    assert.equal(c.port, example.port);
    assert.equal(c.host, example.host);
    assert.equal(c.backend.redis?.url, example.redisUrl);
    assert.equal(c.publicUrl, example.publicUrl);
    assert.equal(c.logLevel, example.logLevel);
    assert.equal(c.inProcessWorker, example.inProcessWorker);
    assert.equal(c.workerConcurrency, example.workerConcurrency);
    assert.equal(c.bodyLimit, example.bodyLimit);
    assert.equal(c.shutdownTimeoutMs, example.shutdownTimeoutMs);
    assert.equal(c.backend.queuePrefix, example.queuePrefix);
  });

  test('the file is merged under the environment: the environment wins, the file fills the rest', () => {
    const p = file(JSON.stringify({ port: 9000, logLevel: 'debug', publicUrl: 'https://from-file.example.com', inProcessWorker: false }));
    const c = loadConfig({ DIALGATE_CONFIG: p, LOG_LEVEL: 'warn', PUBLIC_URL: 'https://from-env.example.com' });
    assert.equal(c.port, 9000, 'from the file');
    assert.equal(c.inProcessWorker, false, 'from the file');
    assert.equal(c.logLevel, 'warn', 'the environment wins');
    assert.equal(c.publicUrl, 'https://from-env.example.com', 'the environment wins');
    assert.equal(c.workerConcurrency, 8, 'neither: the default');
  });

  test('a bad value in the file names its setting', () => {
    refuses({ DIALGATE_CONFIG: file('{"port": "abc"}') }, 'PORT', /abc/);
    refuses({ DIALGATE_CONFIG: file('{"logLevel": "loud"}') }, 'LOG_LEVEL');
    refuses({ DIALGATE_CONFIG: file('{"redisUrl": "http://x"}'), DIALGATE_ADMIN_TOKEN: TOKEN }, 'REDIS_URL');
  });

  test('an unknown key, bad JSON, a non-object or a missing file stop start-up naming DIALGATE_CONFIG', () => {
    refuses({ DIALGATE_CONFIG: file('{"port": 8080, "colour": "red"}') }, 'DIALGATE_CONFIG', /colour/);
    refuses({ DIALGATE_CONFIG: file('{"port": 8080,') }, 'DIALGATE_CONFIG', /JSON/);
    refuses({ DIALGATE_CONFIG: file('') }, 'DIALGATE_CONFIG', /JSON/);
    refuses({ DIALGATE_CONFIG: file('[1,2]') }, 'DIALGATE_CONFIG', /object/);
    refuses({ DIALGATE_CONFIG: file('"port=8080"') }, 'DIALGATE_CONFIG', /object/);
    refuses({ DIALGATE_CONFIG: join(dir, 'does-not-exist.json') }, 'DIALGATE_CONFIG', /ENOENT|cannot read/);
  });

  test('the operator token is not a file setting (secrets come from the environment)', () => {
    refuses({ DIALGATE_CONFIG: file(JSON.stringify({ adminToken: TOKEN })) }, 'DIALGATE_CONFIG', /adminToken/);
  });
});
