// scripts/provider-trial.ts (npm run trial) against a running gateway: it starts the trial,
// shows progress, prints the providers ranked side by side and writes an SVG chart with one
// curve per provider and stage; bad arguments exit 2 with the usage, API refusals exit 1.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { must, randomDid, uid } from '../calls/setup.js';
import { FAST_SIM, SLOW_SIM, TRIAL_HOLD_MS, createProvider } from '../perf/helpers.js';

const root = resolve(import.meta.dirname, '../..');

function runScript(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/provider-trial.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', rej);
    child.on('exit', (code) => {
      clearTimeout(t);
      res({ code, out, err });
    });
  });
}

describe('npm run trial (scripts/provider-trial.ts)', () => {
  let gw: TestGateway;
  let key: string;
  let fast: string;
  let slow: string;
  const dir = mkdtempSync(join(tmpdir(), 'dialgate-trial-'));

  before(async () => {
    gw = await startGateway({ store: 'redis' });
    key = (await gw.createOrg('script ' + uid('o'))).apiKey;
    must(await gw.req('PUT', `/v1/users/${uid()}`, { key, body: { region: 'CA' } }), 201, 'user');
    fast = await createProvider(gw, key, 'Fast sim', FAST_SIM);
    slow = await createProvider(gw, key, 'Slow sim', SLOW_SIM);
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('runs a trial, prints the ranked table and writes the SVG chart', async () => {
    const svg = join(dir, 'chart.svg');
    // the key from the environment, as the usage recommends
    const r = await runScript(['--url', gw.url, '--providers', `${slow},${fast}`, '--to', randomDid(), '--calls', '4', '--concurrency', '2', '--hang-up-after-ms', String(TRIAL_HOLD_MS), '--svg', svg], {
      DIALGATE_API_KEY: key,
    });
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /^trial trl_\S+: 4 calls through each of/m);
    assert.match(r.out, /progress: 8\/8 finished, 8 placed/);
    const lines = r.out.split('\n');
    const header = lines.findIndex((l) => l.startsWith('#  provider'));
    assert.ok(header >= 0, r.out);
    // ranked: the fast provider first
    assert.match(lines[header + 2], /^1\s+Fast sim/);
    assert.match(lines[header + 3], /^2\s+Slow sim/);
    assert.match(lines[header + 2], /4\/4\s+4\s+100\.0 %/);
    assert.ok(!r.out.includes(key) && !r.err.includes(key), 'the key is never printed');

    const text = readFileSync(svg, 'utf8');
    assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(text, /<\/svg>\n$/);
    // one curve per provider in each of the two panels
    for (const p of [fast, slow]) assert.equal(text.split(`data-provider="${p}"`).length - 1, 2, `curves of ${p}`);
    assert.equal((text.match(/<g class="panel"/g) ?? []).length, 2);
    assert.equal((text.match(/<g\b/g) ?? []).length, (text.match(/<\/g>/g) ?? []).length);
    assert.match(text, /Fast sim \(sim\)/);
  });

  test('bad arguments exit 2 with the usage; an API refusal exits 1 with its error', async () => {
    const usage = await runScript(['--url', gw.url, '--key', key, '--providers', fast]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--to is required/);
    assert.match(usage.err, /usage: npm run trial/);
    const bounds = await runScript(['--url', gw.url, '--key', key, '--providers', fast, '--to', randomDid(), '--calls', '5000']);
    assert.equal(bounds.code, 2);
    assert.match(bounds.err, /--calls must be an integer from 1 to 1000/);
    const refused = await runScript(['--url', gw.url, '--key', key, '--providers', 'prv_nope', '--to', randomDid(), '--svg', join(dir, 'x.svg')]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /404 provider_not_found/);
  });
});
