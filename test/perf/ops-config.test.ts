// The ops files shipped for issue 7: config/prometheus/alerts.yml passes `promtool check rules`
// and its unit tests (`promtool test rules`), every PromQL query of the Grafana dashboard parses,
// and every dialgate_* metric either file names is one a running gateway actually exports.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const root = resolve(import.meta.dirname, '../..');
const ALERTS = join(root, 'config/prometheus/alerts.yml');
const ALERT_TESTS = join(root, 'config/prometheus/alerts.test.yml');
const DASHBOARD = join(root, 'config/grafana/dialgate-dashboard.json');

const havePromtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).status === 0;
const noPromtool = havePromtool ? false : 'promtool is not on PATH (Debian: apt-get install prometheus): the rule checks cannot run';
if (!havePromtool) console.log(`# skipping promtool checks: ${noPromtool}`);

function promtool(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, out: `${r.stdout}\n${r.stderr}` };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
const queries: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));

describe('Prometheus rules', () => {
  test('promtool check rules config/prometheus/alerts.yml', { skip: noPromtool }, () => {
    const r = promtool('check', 'rules', ALERTS);
    assert.ok(r.ok, r.out);
    assert.match(r.out, /SUCCESS: 6 rules found/);
  });

  test('promtool test rules: breaker open, probes failing, webhook signature spike, answer ratio collapse, call-log backlog', { skip: noPromtool }, () => {
    const r = promtool('test', 'rules', ALERT_TESTS);
    assert.ok(r.ok, r.out);
  });

  test('the unit tests can fail: a rule with the wrong threshold is caught', { skip: noPromtool }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'dialgate-rules-'));
    try {
      writeFileSync(join(dir, 'alerts.yml'), readFileSync(ALERTS, 'utf8').replace('max by (provider_kind, provider_id) (dialgate_provider_breaker_open) > 0', 'max by (provider_kind, provider_id) (dialgate_provider_breaker_open) > 1'));
      writeFileSync(join(dir, 'alerts.test.yml'), readFileSync(ALERT_TESTS, 'utf8'));
      const r = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
      assert.equal(r.ok, false, 'a broken breaker rule passed its unit test');
      assert.match(r.out, /DialgateProviderBreakerOpen/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every dashboard query is valid PromQL (checked as recording rules)', { skip: noPromtool }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'dialgate-dash-'));
    try {
      const rules = queries.map((q, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(q.replaceAll('$__rate_interval', '5m').replaceAll('$provider_kind', '.*').replaceAll('$provider_id', '.*'))}`);
      writeFileSync(join(dir, 'dash.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const r = promtool('check', 'rules', join(dir, 'dash.yml'));
      assert.ok(r.ok, r.out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metric names the dashboard and the alerts use', () => {
  let gw: TestGateway;
  let exported: Set<string>;
  before(async () => {
    gw = await startGateway({ store: 'redis' });
    const text = (await gw.req('GET', '/metrics')).text;
    exported = new Set();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(m[1]);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m[1] + s);
    }
  });
  after(async () => {
    await gw.close();
  });

  test('the dashboard covers calls, answer ratio, setup and screen-pop latency, breaker state, call-log depth and failures', () => {
    const all = queries.join('\n');
    for (const needed of [
      'dialgate_call_attempts_total',
      'dialgate_calls_answered_total',
      'dialgate_call_setup_seconds_bucket',
      'dialgate_screen_pop_seconds_bucket',
      'dialgate_provider_breaker_open',
      'dialgate_provider_probes_total',
      'dialgate_crm_queue_depth',
      'dialgate_crm_logs_total',
    ]) {
      assert.ok(all.includes(needed), `the dashboard has no panel on ${needed}`);
    }
    for (const p of dashboard.panels) if (p.type !== 'row') assert.ok(p.targets?.length, `panel "${p.title}" has no query`);
  });

  for (const [name, file] of [
    ['dashboard', DASHBOARD],
    ['alerts', ALERTS],
    ['alert tests', ALERT_TESTS],
  ] as const) {
    test(`every dialgate_* metric in the ${name} is exported by the gateway`, () => {
      const used = new Set(readFileSync(file, 'utf8').match(/dialgate_[a-z0-9_]+/g) ?? []);
      assert.ok(used.size > 3);
      const missing = [...used].filter((m) => !exported.has(m));
      assert.deepEqual(missing, [], `not exported: ${missing.join(', ')}`);
    });
  }
});
