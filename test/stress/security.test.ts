// The security part of the stress suite (issue 8, items 4–5), short form: two gateways, the
// worker and the webhook-CRM fake as real processes on their own redis-server, logging at debug.
// Isolation between orgs, 10,000 hostile requests, and a sweep of every response body and every
// log line of every process for the secrets configured (API keys, operator token, CRM secrets,
// Twilio auth tokens, RingCentral client secret and JWT).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.js';
import { send, type Reply } from './lib/http.js';
import { SecretSweep } from './lib/secrets.js';
import { Figures, printTable, type ScenarioResult } from './lib/stats.js';
import { FakeRingCentral } from '../fakes/ringcentral/server.js';
import { BAD_INPUT_SHORT, badInput } from './scenarios/bad-input.js';
import { isolatedOrg, isolation } from './scenarios/isolation.js';

function passed(r: ScenarioResult): void {
  printTable(r);
  assert.deepEqual(r.failures, [], r.failures.join('\n'));
}

describe('stress: security (short form)', { timeout: 600_000 }, () => {
  let cluster: Cluster;
  let rc: FakeRingCentral;
  const sweep = new SecretSweep();
  const seen = (what: string, r: Reply) => sweep.response(what, r.text, r.headers);

  before(async () => {
    cluster = await Cluster.start({ name: 'security', gateways: 2, logLevel: 'debug' });
    sweep.add('operator token', cluster.adminToken);
    sweep.add('CRM fake secret', cluster.crm.secret);
  });

  after(async () => {
    await rc?.close();
    await cluster?.stop();
  });

  test('5. isolation: another org gets 404 and nothing of the other org; only the operator creates orgs', async () => {
    passed(await isolation(cluster, sweep, seen));
  });

  test('4. 10,000 hostile requests: no 5xx, no crash, memory back, data unchanged', async () => {
    const victim = await isolatedOrg(cluster, 'Org Victim', 'victim', { agent: '604', did: '778' }, sweep);
    // the victim's Twilio provider was made with a token isolatedOrg keeps to itself: add another
    // one whose token the generator knows, to forge, tamper with and replay real signatures
    const twilioAuthToken = `victimtw${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`;
    sweep.add('victim Twilio auth token (signing)', twilioAuthToken);
    const tw = await send(cluster.a.url, 'POST', '/v1/providers?verify=false', {
      key: victim.key,
      body: { kind: 'twilio', name: 'Signed Twilio', config: { accountSid: 'AC' + 'cd'.repeat(16), authToken: twilioAuthToken, callerId: '+16049679998', apiBaseUrl: 'http://127.0.0.1:9' } },
    });
    assert.equal(tw.status, 201, tw.text);
    const credentials = { clientId: 'stress-rc-client', clientSecret: `RC-SECRET-${Math.random().toString(36).slice(2)}-never-shown`, jwt: `eyJhbGciOiJSUzI1NiJ9.STRESS-${Math.random().toString(36).slice(2)}.c2ln` };
    sweep.add('RingCentral client secret', credentials.clientSecret);
    sweep.add('RingCentral JWT', credentials.jwt);
    rc = await new FakeRingCentral({ credentials }).start();
    const rcp = await send(cluster.a.url, 'POST', '/v1/providers', {
      key: victim.key,
      body: { kind: 'ringcentral', name: 'RingCentral', config: { ...credentials, serverUrl: rc.url, timeoutMs: 5000 } },
    });
    assert.equal(rcp.status, 201, rcp.text);
    passed(await badInput(cluster, { victim: { ...victim, twilioProviderId: tw.body.id }, twilioAuthToken, ringcentralProviderId: rcp.body.id }, BAD_INPUT_SHORT, sweep, seen));
  });

  test('no secret in any response body or any log line of any process', async () => {
    const f = new Figures('4+5. Secrets sweep', 'every response of scenarios 4 and 5, every line every process wrote (LOG_LEVEL=debug)');
    let logBytes = 0;
    let logLines = 0;
    for (const { name, text } of cluster.allOutput()) {
      logBytes += text.length;
      logLines += text.split('\n').length;
      sweep.check(`${name} log`, text);
    }
    f.info('secrets configured and looked for', sweep.count);
    f.info('response bodies scanned', sweep.responses);
    f.info('response bytes scanned (MB)', sweep.responseBytes / 1024 / 1024);
    f.info('log lines scanned', logLines);
    f.info('log bytes scanned (MB)', logBytes / 1024 / 1024);
    f.check('secrets found', sweep.hits.length, '0', sweep.hits.length === 0, sweep.hits.slice(0, 5).map((h) => `${h.secret} in ${h.where} after "${h.context}"`).join(' | '));
    passed(f.result());
  });
});
