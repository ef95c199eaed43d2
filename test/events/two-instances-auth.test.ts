// Credentials across instances (issue 15): two gateway processes on one Redis. Keys and tokens
// made through A work on B; an agent token does its own calls and events on B and nothing else;
// a token and a key revoked through A are refused by B within 1.5 s (though B had just verified
// them); a read key reads and cannot write; and neither process logs a secret, even a token
// passed in a URL.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { connectEvents, eventually, httpJson, type ReqOpts } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { FROZEN, uid } from '../calls/setup.js';

describe('credentials across two gateway processes on one Redis', () => {
  const adminToken = 'two-auth-' + randomBytes(12).toString('hex');
  let a: GatewayProcess | undefined;
  let b: GatewayProcess | undefined;
  const secrets = new Map<string, string>();
  before(async () => {
    // info: every request is logged, with its URL
    [a, b] = await Promise.all([startGatewayProcess(adminToken, 'redis', { LOG_LEVEL: 'info' }), startGatewayProcess(adminToken, 'redis', { LOG_LEVEL: 'info' })]);
    secrets.set('operator token', adminToken);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const on = (g: () => GatewayProcess | undefined) => (method: string, path: string, key: string, body?: unknown, o: ReqOpts = {}) => httpJson(g()!.url, method, path, { ...o, key, body });
  const A = on(() => a);
  const B = on(() => b);

  /** ms until B refuses what `use` does (401), polling every 20 ms */
  async function refusedOnB(use: () => Promise<number>, what: string): Promise<number> {
    const t0 = Date.now();
    await eventually(async () => (await use()) === 401, 3000, what);
    return Date.now() - t0;
  }

  test('an agent token does its own calls and events and nothing else; revoked keys and tokens are refused on the other instance within 1.5 s', async () => {
    try {
      const org = await httpJson(a!.url, 'POST', '/v1/orgs', { key: adminToken, body: { name: 'two instances auth' } });
      assert.equal(org.status, 201, org.text);
      const admin = org.body.apiKey as string;
      secrets.set('admin key', admin);
      const alice = uid('alice');
      const bob = uid('bob');
      for (const [u, phone] of [[alice, '+14165550111'], [bob, '+14165550112']]) assert.equal((await A('PUT', `/v1/users/${u}`, admin, { region: 'CA', phone })).status, 201);
      assert.equal((await A('PUT', '/v1/dial-policy', admin, { limits: { perUserPerMinute: 1000, liveCallsPerUser: 100 } })).status, 200);
      const prov = await A('POST', '/v1/providers', admin, { kind: 'sim', name: 'frozen', config: FROZEN, install: { scope: 'all' } });
      assert.equal(prov.status, 201, prov.text);

      // made on A
      const tok = await A('POST', '/v1/agent-tokens', admin, { userId: alice });
      assert.equal(tok.status, 201, tok.text);
      const token = tok.body.token as string;
      secrets.set('agent token', token);
      const ro = await A('POST', '/v1/api-keys', admin, { name: 'dashboard', scope: 'read' });
      assert.equal(ro.status, 201, ro.text);
      const readKey = ro.body.apiKey as string;
      secrets.set('read key', readKey);

      // the agent on B: its events (a browser passes the token in the URL) and its calls
      const sock = await new Promise<{ ws: WebSocket; messages: any[] }>((resolve, reject) => {
        const ws = new WebSocket(`${b!.url.replace(/^http/, 'ws')}/v1/events?access_token=${encodeURIComponent(token)}`);
        const messages: any[] = [];
        ws.on('message', (d) => {
          messages.push(JSON.parse(String(d)));
          if (messages.length === 2) resolve({ ws, messages });
        });
        ws.once('error', reject);
        ws.once('unexpected-response', (_q, r) => reject(new Error(`refused ${r.statusCode}`)));
      });
      assert.equal(sock.messages[0].type, 'calls.snapshot', 'the live-calls snapshot comes first');
      assert.deepEqual(sock.messages[1], { type: 'hello', orgId: org.body.id, userId: alice });
      await assert.rejects(connectEvents(b!.url, token, bob), /refused: 403/, "bob's events are refused");

      const own = await B('POST', '/v1/calls', token, { to: '+14165550199' });
      assert.equal(own.status, 201, own.text);
      assert.equal(own.body.userId, alice);
      assert.equal((await B('POST', '/v1/calls', token, { userId: bob, to: '+14165550199' })).status, 403);
      const bobs = await A('POST', '/v1/calls', admin, { userId: bob, to: '+14165550198' });
      assert.equal(bobs.status, 201, bobs.text);
      await eventually(async () => sock.messages.some((m) => m.type === 'call.created' && m.call.id === own.body.id), 5000, "the agent's own call on its socket");
      assert.equal((await B('GET', `/v1/calls/${own.body.id}`, token)).status, 200);
      assert.equal((await B('GET', `/v1/calls/${bobs.body.id}`, token)).status, 404);
      assert.equal((await B('DELETE', `/v1/calls/${bobs.body.id}`, token)).status, 404);
      for (const [m, p] of [['GET', '/v1/calls'], ['GET', '/v1/users'], ['GET', `/v1/providers/${prov.body.id}`], ['POST', '/v1/agent-tokens'], ['GET', '/v1/api-keys']]) {
        assert.equal((await B(m, p, token, m === 'POST' ? { userId: alice } : undefined)).status, 403, `${m} ${p}`);
      }
      assert.equal((await B('DELETE', `/v1/calls/${own.body.id}`, token)).status, 202);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!sock.messages.some((m) => m.call?.userId === bob), "nothing of bob's reached the agent");
      // a plain GET with the token in the URL (logged at info): the log must not carry it
      assert.equal((await httpJson(b!.url, 'GET', `/v1/events?access_token=${token}&userId=${alice}`)).status, 401);

      // the read key on B
      assert.equal((await B('GET', '/v1/users', readKey)).status, 200);
      assert.equal((await B('GET', `/v1/calls/${bobs.body.id}`, readKey)).status, 200);
      assert.equal((await B('PUT', `/v1/users/${bob}`, readKey, { region: 'US' })).status, 403);
      assert.equal((await B('DELETE', `/v1/calls/${bobs.body.id}`, readKey)).status, 403);
      assert.equal((await B('GET', `/v1/users/${bob}`, readKey)).body.region, 'CA', 'nothing changed');

      // revoked through A, just after B verified them (B's cache holds them)
      assert.equal((await B('GET', `/v1/calls/${own.body.id}`, token)).status, 200);
      assert.equal((await A('DELETE', `/v1/agent-tokens/${tok.body.id}`, admin)).status, 204);
      const tokenMs = await refusedOnB(async () => (await B('GET', `/v1/calls/${own.body.id}`, token)).status, 'the revoked token refused on B');
      assert.ok(tokenMs <= 1500, `the token was refused on B after ${tokenMs} ms`);
      const closed = await eventually(async () => sock.ws.readyState === WebSocket.CLOSED, 3000, "the revoked token's socket closed");
      assert.ok(closed);

      assert.equal((await B('GET', '/v1/users', readKey)).status, 200);
      assert.equal((await A('DELETE', `/v1/api-keys/${ro.body.id}`, admin)).status, 204);
      const keyMs = await refusedOnB(async () => (await B('GET', '/v1/users', readKey)).status, 'the revoked key refused on B');
      assert.ok(keyMs <= 1500, `the key was refused on B after ${keyMs} ms`);

      // a token of a user deleted through A
      const t2 = await A('POST', '/v1/agent-tokens', admin, { userId: bob });
      secrets.set('second agent token', t2.body.token);
      assert.equal((await B('GET', `/v1/calls/${bobs.body.id}`, t2.body.token)).status, 200);
      assert.equal((await A('DELETE', `/v1/calls/${bobs.body.id}`, admin)).status, 202);
      assert.equal((await A('DELETE', `/v1/users/${bob}`, admin)).status, 204);
      const userMs = await refusedOnB(async () => (await B('GET', `/v1/calls/${bobs.body.id}`, t2.body.token)).status, "a deleted user's token refused on B");
      assert.ok(userMs <= 1500, `refused on B after ${userMs} ms`);
    } catch (e) {
      (e as Error).message += `\n--- A:\n${a?.output()}\n--- B:\n${b?.output()}`;
      throw e;
    }
  });

  test('no secret (operator token, keys, agent tokens) in any log line of either process', () => {
    const logs = `${a!.fullOutput()}\n${b!.fullOutput()}`;
    assert.ok(logs.includes('/v1/events'), 'requests are logged at info');
    for (const [name, value] of secrets) {
      const secretPart = value.split('_').pop()!;
      assert.ok(!logs.includes(secretPart), `the ${name} appears in a log line`);
    }
  });
});
