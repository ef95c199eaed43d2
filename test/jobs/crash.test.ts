// A worker process killed with SIGKILL mid-run (Zoho has committed some of its writes but not yet
// answered), then restarted: every call ends with exactly one Calls record. The restarted worker
// gets the dead one's jobs through BullMQ's stalled-job check (the lock lapses), and its CRM write
// looks before writing again. Redis only: the memory backend's queue dies with its process.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { callLogQueue } from '../../src/jobs/pipeline.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { backendFor, crmLogs, finishedCall, rid, setupOrg, silentLogger, waitFor, type TestStore } from './helpers.js';

const CHILD = resolve(import.meta.dirname, 'worker-child.ts');

function startChild(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('worker child did not start in 30 s')), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        res(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`worker child exited early (${code})`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

describe('worker killed with SIGKILL mid-run', () => {
  let zoho: ZohoFake;
  let ts: TestStore;
  const children: ChildProcess[] = [];
  before(async () => {
    zoho = await new ZohoFake().start();
    ts = await backendFor('redis');
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await zoho.close();
    await ts.close();
  });

  test('restarted worker loses no log and duplicates none', { timeout: 180_000 }, async () => {
    const { orgId, userId } = await setupOrg(ts.backend, zoho.config(), { crmUserId: 'zu-1' });
    const contact = zoho.addRecord('Contacts', { Last_Name: 'Crash', Phone: '+13125550100' });
    const queuePrefix = `{dgt-${rid()}}`;
    // the producer: a gateway's backend over the same keys, enqueueing on the workers' queue tag
    const gateway = await backendFor('redis', ts.keyPrefix, queuePrefix);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await finishedCall(ts.backend, orgId, userId, { customer: '+13125550100' })).id);
    const producer = callLogQueue(gateway.backend, { logger: silentLogger, registry: new Registry() });
    for (const id of ids) await producer.enqueue(orgId, id);
    assert.equal(await producer.depth(), ids.length, 'every call queued, none running yet');
    await producer.close();
    await gateway.close();

    // Zoho keeps each committed insert 300 ms before answering: a kill lands inside that window
    zoho.commitLatencyMs = 300;
    const env = { KEY_PREFIX: ts.keyPrefix, QUEUE_PREFIX: queuePrefix, CONCURRENCY: '5' };
    const first = await startChild(env);
    children.push(first);
    const mine = () => zoho.calls().filter((c) => ids.some((id) => String(c.Description).endsWith(`dialgate-call-id: ${id}`)));
    await waitFor(() => mine().length >= 15, '15 records written by the first worker', 60_000);
    first.kill('SIGKILL');
    await exited(first);
    const atKill = mine().length;
    const logsAtKill = await crmLogs(ts.backend, orgId, ids);
    const recordedAtKill = new Set(mine().map((r) => String(r.Description).split('dialgate-call-id: ')[1]));
    // Zoho has the record but the job never heard back: the case that would write twice
    const midWrite = ids.filter((id, i) => recordedAtKill.has(id) && logsAtKill[i]?.status !== 'logged');
    const committedUnanswered = midWrite.length;

    zoho.commitLatencyMs = 0;
    const second = await startChild(env);
    children.push(second);
    await waitFor(async () => (await crmLogs(ts.backend, orgId, ids)).every((l) => l?.status === 'logged'), 'every call logged after the restart', 120_000, 200);
    second.kill('SIGTERM');
    await exited(second);

    const perCall = ids.map((id) => zoho.calls().filter((c) => String(c.Description).split('\n').includes(`dialgate-call-id: ${id}`)).length);
    assert.deepEqual(perCall.filter((n) => n !== 1), [], 'exactly one record per call');
    assert.ok(atKill < ids.length, 'the kill happened mid-run');
    assert.ok(committedUnanswered > 0, `some jobs were mid-write at the kill (${committedUnanswered})`);
    const logs = await crmLogs(ts.backend, orgId, ids);
    for (const [i, l] of logs.entries()) {
      assert.equal(l!.recordId, zoho.calls().find((c) => String(c.Description).endsWith(`dialgate-call-id: ${ids[i]}`))!.id);
    }
    // those jobs came back through the stalled-job check: the rerun counted the crashed run
    // (attemptsStarted), so it looked for the committed record instead of inserting again
    for (const id of midWrite) {
      const l = logs[ids.indexOf(id)]!;
      assert.ok(l.attempts >= 2, `call ${id}: logged on run ${l.attempts}, after the crashed one`);
    }
    for (const r of mine()) assert.deepEqual(r.Owner, { id: 'zu-1' });
    assert.ok(contact.id);
  });
});
