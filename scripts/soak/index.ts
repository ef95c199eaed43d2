// `npm run soak`: the long form of the stress suite (issue 8). The same scenarios as
// test/stress (the short form inside `npm test`), with longer durations and higher rates, each on
// a fresh deployment of real processes (redis-server with AOF, gateways, worker, webhook-CRM fake).
// Prints every scenario's table and writes them all to test-results/soak/soak-<timestamp>.md (git-ignored).
//
//   npm run soak                      every scenario, long parameters
//   npm run soak -- load redis        only the named scenarios (redis, crm, shutdown, input, isolation, load)
//   SOAK_SHORT=1 npm run soak         the short parameters (what CI runs), for a quick look

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Cluster } from '../../test/stress/lib/cluster.js';
import { send } from '../../test/stress/lib/http.js';
import { SecretSweep } from '../../test/stress/lib/secrets.js';
import { Figures, formatTable, printTable, type ScenarioResult } from '../../test/stress/lib/stats.js';
import { BAD_INPUT_LONG, BAD_INPUT_SHORT, badInput } from '../../test/stress/scenarios/bad-input.js';
import { CRM_OUTAGE_LONG, CRM_OUTAGE_SHORT, crmOutage } from '../../test/stress/scenarios/crm-outage.js';
import { isolatedOrg, isolation } from '../../test/stress/scenarios/isolation.js';
import { LOAD_LONG, LOAD_SHORT, load } from '../../test/stress/scenarios/load.js';
import { REDIS_RESTART_LONG, REDIS_RESTART_SHORT, redisRestart } from '../../test/stress/scenarios/redis-restart.js';
import { LB_PUBLIC_URL, SHUTDOWN_LONG, SHUTDOWN_SHORT, shutdown } from '../../test/stress/scenarios/shutdown.js';

const short = process.env.SOAK_SHORT === '1';
const only = new Set(process.argv.slice(2));
const want = (name: string) => only.size === 0 || only.has(name);

async function withCluster<T>(opts: Parameters<typeof Cluster.start>[0], fn: (c: Cluster) => Promise<T>): Promise<T> {
  const c = await Cluster.start(opts);
  try {
    return await fn(c);
  } finally {
    await c.stop();
  }
}

async function security(): Promise<ScenarioResult[]> {
  return withCluster({ name: 'soak-security', gateways: 2, logLevel: 'debug' }, async (c) => {
    const sweep = new SecretSweep();
    sweep.add('operator token', c.adminToken);
    sweep.add('CRM fake secret', c.crm.secret);
    const seen = (what: string, r: { text: string; headers: Record<string, unknown> }) => sweep.response(what, r.text, r.headers);
    const out: ScenarioResult[] = [];
    if (want('isolation')) out.push(printed(await isolation(c, sweep, seen)));
    if (want('input')) {
      const victim = await isolatedOrg(c, 'Org Victim', 'victim', { agent: '604', did: '778' }, sweep);
      const token = `victimtw${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`;
      sweep.add('victim Twilio auth token (signing)', token);
      const tw = await send(c.a.url, 'POST', '/v1/providers?verify=false', {
        key: victim.key,
        body: { kind: 'twilio', name: 'Signed Twilio', config: { accountSid: 'AC' + 'cd'.repeat(16), authToken: token, callerId: '+16049679998', apiBaseUrl: 'http://127.0.0.1:9' } },
      });
      out.push(printed(await badInput(c, { victim: { ...victim, twilioProviderId: tw.body.id }, twilioAuthToken: token }, short ? BAD_INPUT_SHORT : BAD_INPUT_LONG, sweep, seen)));
    }
    const f = new Figures('4+5. Secrets sweep', 'every response of scenarios 4 and 5, every line every process wrote (LOG_LEVEL=debug)');
    let bytes = 0;
    for (const { name, text } of c.allOutput()) {
      bytes += text.length;
      sweep.check(`${name} log`, text);
    }
    f.info('secrets looked for', sweep.count);
    f.info('response bodies scanned', sweep.responses);
    f.info('log bytes scanned (MB)', bytes / 1048576);
    f.check('secrets found', sweep.hits.length, '0', sweep.hits.length === 0, sweep.hits.slice(0, 5).map((h) => `${h.secret} in ${h.where}`).join(' | '));
    out.push(printed(f.result()));
    return out;
  });
}

function printed(r: ScenarioResult): ScenarioResult {
  printTable(r);
  return r;
}

async function main(): Promise<void> {
  const started = new Date();
  const results: ScenarioResult[] = [];
  const reliability = { gateways: 2, publicUrl: LB_PUBLIC_URL, logLevel: 'info', workerConcurrency: 32 };
  if (want('crm')) results.push(printed(await withCluster({ name: 'soak-crm', ...reliability }, (c) => crmOutage(c, short ? CRM_OUTAGE_SHORT : CRM_OUTAGE_LONG))));
  if (want('redis')) results.push(printed(await withCluster({ name: 'soak-redis', ...reliability }, (c) => redisRestart(c, short ? REDIS_RESTART_SHORT : REDIS_RESTART_LONG))));
  if (want('shutdown')) results.push(printed(await withCluster({ name: 'soak-shutdown', ...reliability }, (c) => shutdown(c, short ? SHUTDOWN_SHORT : SHUTDOWN_LONG))));
  if (want('isolation') || want('input')) results.push(...(await security()));
  if (want('load')) results.push(printed(await withCluster({ name: 'soak-load', gateways: 2, logLevel: 'info', workerConcurrency: 32 }, (c) => load(c, short ? LOAD_SHORT : LOAD_LONG))));

  const failures = results.flatMap((r) => r.failures);
  const dir = resolve(import.meta.dirname, '../../test-results/soak');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${started.toISOString().replace(/[:.]/g, '-')}.md`);
  const head = [
    `# dialgate soak (${short ? 'short' : 'long'} form)`,
    '',
    `started ${started.toISOString()}, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; node ${process.version}; ${(await import('node:os')).cpus().length} CPUs`,
    `command: npm run soak${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}${short ? ' (SOAK_SHORT=1)' : ''}`,
    'Redis: its own redis-server, --appendonly yes --appendfsync always (as a production Redis for durable queues)',
    '',
  ].join('\n');
  writeFileSync(file, head + results.map(formatTable).join('\n') + (failures.length ? `\n## Failures\n\n${failures.map((x) => `- ${x}`).join('\n')}\n` : '\n## All checks passed\n'));
  process.stdout.write(`\nsoak: ${results.length} tables, ${failures.length} failed checks; written to ${file}\n`);
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`soak: ${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
