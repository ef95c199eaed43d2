import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { webhookCrmKind, signWebhook } from '../../adapters/crm/webhook/index.js';
import { CrmError, type CrmAdapter } from '../../src/crm/adapter.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { finishedCall, backendFor, setupOrg, silentLogger, type TestStore } from '../jobs/helpers.js';

describe('webhook CRM', () => {
  let fake: WebhookCrmFake;
  let ts: TestStore;
  before(async () => {
    fake = await new WebhookCrmFake().start();
    ts = await backendFor('memory');
  });
  after(async () => {
    await fake.close();
    await ts.close();
  });

  const adapter = (config: Record<string, unknown>, orgId = 'o1'): CrmAdapter =>
    webhookCrmKind.create({ orgId, config, shared: ts.backend.shared, logger: silentLogger });

  test('signature is HMAC-SHA256 over "t.body" with the secret, hex', () => {
    const body = '{"type":"call.log","call":{"id":"c1"}}';
    const expected = createHmac('sha256', 'whsec_vector').update(`1700000000.${body}`).digest('hex');
    assert.equal(signWebhook('whsec_vector', body, 1700000000), `t=1700000000,v1=${expected}`);
    // fixed vector (computed independently with `openssl dgst -sha256 -hmac whsec_vector`)
    assert.equal(signWebhook('whsec_vector', '{}', 1700000000), 't=1700000000,v1=1f8abe454aaf2153a9ae950a6602cbee309c717fb69ac06067bcf0e2ee2f359d');
  });

  test('POSTs the call log signed, with Idempotency-Key = call id; 2xx = delivered', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, fake.config(), { crmUserId: 'crm-u-1' });
    const call = await finishedCall(ts.backend, orgId, userId, { durationSec: 42, crmRecord: { module: 'Contacts', id: 'rec-9' } });
    const user = await ts.backend.directory.getUser(orgId, userId);
    const res = await adapter(fake.config(), orgId).writeCallLog({ call, user, record: { module: 'Contacts', id: 'rec-9' } });
    assert.deepEqual(res, {});
    const d = fake.deliveries.get(call.id);
    assert.ok(d, 'delivered under the call id as Idempotency-Key');
    assert.equal(fake.rejected, 0);
    assert.equal(d.body.call.id, call.id);
    assert.equal(d.body.call.direction, 'outbound');
    assert.equal(d.body.call.to, call.to);
    assert.equal(d.body.call.status, 'completed');
    assert.equal(d.body.call.durationSec, 42);
    assert.equal(d.body.call.endedAt, call.endedAt);
    assert.deepEqual(d.body.user, { id: userId, crmUserId: 'crm-u-1' });
    assert.deepEqual(d.body.record, { module: 'Contacts', id: 'rec-9' });
  });

  test('a receiver with another secret refuses the signature (401 → permanent)', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null);
    const call = await finishedCall(ts.backend, orgId, userId);
    const before = fake.rejected;
    await assert.rejects(
      adapter({ url: fake.url, secret: 'not-the-secret' }).writeCallLog({ call, user: null, record: null }),
      (e: unknown) => e instanceof CrmError && !e.retryable && /401/.test(e.message) && !e.message.includes('not-the-secret'),
    );
    assert.equal(fake.rejected, before + 1);
  });

  test('503 and 429 are retryable and carry Retry-After; other 4xx are permanent', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null);
    const call = await finishedCall(ts.backend, orgId, userId);
    const a = adapter(fake.config());
    fake.unavailableUntil = Date.now() + 60_000;
    fake.retryAfterSec = 7;
    await assert.rejects(a.writeCallLog({ call, user: null, record: null }), (e: unknown) => e instanceof CrmError && e.retryable && e.retryAfterMs === 7000);
    fake.unavailableUntil = 0;
    fake.failRate = 1;
    fake.failStatus = 429;
    fake.retryAfterSec = undefined;
    await assert.rejects(a.writeCallLog({ call, user: null, record: null }), (e: unknown) => e instanceof CrmError && e.retryable && e.retryAfterMs === undefined);
    fake.failRate = 0;
    fake.forceStatus = 422;
    await assert.rejects(a.writeCallLog({ call, user: null, record: null }), (e: unknown) => e instanceof CrmError && !e.retryable && /422/.test(e.message));
    fake.forceStatus = null;
    assert.equal(fake.deliveries.has(call.id), false);
  });

  test('a network failure (connection dropped after commit, or refused) is retryable; the receiver dedupes the redelivery', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null);
    const call = await finishedCall(ts.backend, orgId, userId);
    const a = adapter(fake.config());
    fake.dropAfterCommitRate = 1;
    await assert.rejects(a.writeCallLog({ call, user: null, record: null }), (e: unknown) => e instanceof CrmError && e.retryable && e.code === 'network_error');
    fake.dropAfterCommitRate = 0;
    const dups = fake.duplicates;
    await a.writeCallLog({ call, user: null, record: null, attempt: 2 });
    assert.equal(fake.duplicates, dups + 1, 'the redelivery carried the same Idempotency-Key');
    await assert.rejects(
      adapter({ url: 'http://127.0.0.1:1/hook', secret: 's' }).writeCallLog({ call, user: null, record: null }),
      (e: unknown) => e instanceof CrmError && e.retryable,
    );
  });

  test('findByPhone: the webhook CRM has no search', async () => {
    assert.equal(await adapter(fake.config()).findByPhone('+14155550100'), null);
  });

  test('bad config is a permanent error that does not echo the secret', () => {
    assert.throws(() => adapter({ url: 'ftp://x', secret: 'sekrit' }), (e: unknown) => e instanceof CrmError && !e.retryable && !e.message.includes('sekrit'));
    assert.throws(() => adapter({ url: 'https://x' }), (e: unknown) => e instanceof CrmError && !e.retryable);
    assert.deepEqual(webhookCrmKind.secretFields, ['secret']);
  });
});
