import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPermanent, retryDelayMs, retryPolicy } from '../../src/jobs/call-log-policy.js';
import { callLogJobId } from '../../src/store/keys.js';
import { CrmError } from '../../src/crm/adapter.js';
import { safeReason } from '../../src/crm/connectors.js';

test('backoff doubles with jitter between half and all of the step, capped', () => {
  const p = retryPolicy({ baseDelayMs: 1000, maxDelayMs: 8000 });
  assert.equal(retryDelayMs(p, 1, new Error('x'), () => 0), 500);
  assert.equal(retryDelayMs(p, 1, new Error('x'), () => 1), 1000);
  assert.equal(retryDelayMs(p, 3, new Error('x'), () => 1), 4000);
  assert.equal(retryDelayMs(p, 3, new Error('x'), () => 0), 2000);
  assert.equal(retryDelayMs(p, 10, new Error('x'), () => 1), 8000, 'capped');
  const spread = new Set([...Array(50)].map(() => retryDelayMs(p, 2, new Error('x'))));
  assert.ok(spread.size > 10, 'jittered');
});

test('Retry-After wins over a shorter backoff, up to the cap', () => {
  const p = retryPolicy({ baseDelayMs: 10, maxDelayMs: 100, maxRetryAfterMs: 60_000 });
  assert.equal(retryDelayMs(p, 1, new CrmError('429', true, 5000), () => 1), 5000);
  assert.equal(retryDelayMs(p, 1, new CrmError('429', true, 10_000_000), () => 1), 60_000);
  assert.equal(retryDelayMs(p, 1, new CrmError('503', true), () => 1), 10);
});

test('permanent = non-retryable CrmError; anything else is retried', () => {
  assert.equal(isPermanent(new CrmError('INVALID_DATA', false)), true);
  assert.equal(isPermanent(new CrmError('503', true)), false);
  assert.equal(isPermanent(new Error('ECONNRESET')), false);
});

test('job ids carry no ":" (BullMQ refuses them) and stay unambiguous', () => {
  const a = callLogJobId('org:1', 'call|2');
  assert.ok(!a.includes(':'));
  assert.notEqual(callLogJobId('a|b', 'c'), callLogJobId('a', 'b|c'));
});

test('reasons stored on calls never carry internals of non-CRM errors', () => {
  assert.equal(safeReason(new Error('connect ECONNREFUSED redis://:hunter2@10.0.0.1')), 'internal error (Error)');
  assert.equal(safeReason(new CrmError('zoho insert Calls: INVALID_DATA (Owner)', false)), 'zoho insert Calls: INVALID_DATA (Owner)');
});
