// Scenario 5: isolation. Every /v1 route of the OpenAPI document is tried with another org's key
// and this org's ids: 404, and nothing of the other org in any answer (ids, names, numbers);
// lists show only the caller's own data; WebSocket events never cross orgs; only the operator
// token creates orgs. Every answer goes through the secrets sweep (see security.test.ts).

import { Cluster, setupOrg, type OrgSetup } from '../lib/cluster.js';
import { send, type Reply } from '../lib/http.js';
import { until } from '../lib/proc.js';
import type { SecretSweep } from '../lib/secrets.js';
import { Figures, type ScenarioResult } from '../lib/stats.js';
import WebSocket from 'ws';
import { diffKeys } from './bad-input.js';

export interface IsolatedOrg extends OrgSetup {
  name: string;
  twilioProviderId: string;
  callIds: string[];
  /** a read key's id and an agent token's id of this org (their secrets are in the sweep) */
  readKeyId: string;
  agentTokenId: string;
  /** strings that identify this org's data: ids, names, numbers */
  markers: string[];
}

const SIM = { apiLatencyMs: 0, ringAfterMs: 20, answerAfterMs: 20, durationMs: 50 };

/** An org with users, a sim and a Twilio provider, a webhook CRM, a finished call of each direction. */
export async function isolatedOrg(cluster: Cluster, name: string, prefix: string, areas: { agent: string; did: string }, sweep: SecretSweep): Promise<IsolatedOrg> {
  const base = cluster.a.url;
  // the CRM fake checks its own signing secret (in the sweep as "CRM fake secret")
  const org = await setupOrg(base, cluster.adminToken, { name, users: 3, sim: SIM, crm: cluster.crm, areas, userPrefix: `${prefix}-u` });
  sweep.add(`${name} API key`, org.key);
  const authToken = `${prefix}tw${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`;
  sweep.add(`${name} Twilio auth token`, authToken);
  const tw = await send(base, 'POST', '/v1/providers?verify=false', {
    key: org.key,
    body: { kind: 'twilio', name: `${name} Twilio`, config: { accountSid: 'AC' + 'ab'.repeat(16), authToken, callerId: '+14169679998', apiBaseUrl: 'http://127.0.0.1:9' }, install: { scope: 'specific', userIds: [] } },
  });
  if (tw.status !== 201) throw new Error(`twilio provider: ${tw.status} ${tw.text}`);
  const out = await send(base, 'POST', '/v1/calls', { key: org.key, body: { userId: org.users[0].id, to: '+19059671111' } });
  if (out.status !== 201) throw new Error(`click: ${out.status} ${out.text}`);
  const inb = await send(base, 'POST', `/webhooks/sim/${org.providerId}/inbound`, { body: { from: '+16139672222', to: org.users[1].did } });
  if (inb.status !== 200) throw new Error(`inbound: ${inb.status} ${inb.text}`);
  const callIds = [out.body.id, inb.body.callId];
  // finished, so nothing changes between the snapshots
  await until(async () => {
    const rs = await Promise.all(callIds.map((id) => send(base, 'GET', `/v1/calls/${id}`, { key: org.key })));
    return rs.every((r) => ['completed', 'failed', 'busy', 'no-answer', 'canceled'].includes(r.body?.status) && r.body?.crmLog?.status === 'logged');
  }, 60_000, `${name}'s calls ended and logged`, 200);
  // the new secrets: a read key and an agent token, each used once (the token also in a URL, as
  // browsers pass it), so their secrets pass through the gateways' logs if they leak at all
  const ro = await send(base, 'POST', '/v1/api-keys', { key: org.key, body: { name: `${name} dashboard`, scope: 'read' } });
  if (ro.status !== 201) throw new Error(`read key: ${ro.status} ${ro.text}`);
  sweep.add(`${name} read API key`, ro.body.apiKey);
  const tok = await send(base, 'POST', '/v1/agent-tokens', { key: org.key, body: { userId: org.users[0].id } });
  if (tok.status !== 201) throw new Error(`agent token: ${tok.status} ${tok.text}`);
  sweep.add(`${name} agent token`, tok.body.token);
  for (const [k, path] of [[ro.body.apiKey, '/v1/users'], [tok.body.token, `/v1/calls/${out.body.id}`]]) {
    const r = await send(base, 'GET', path, { key: k });
    if (r.status !== 200) throw new Error(`GET ${path} with a new credential: ${r.status} ${r.text}`);
  }
  await send(base, 'GET', `/v1/events?access_token=${encodeURIComponent(tok.body.token)}`);
  return {
    ...org,
    name,
    twilioProviderId: tw.body.id,
    callIds,
    readKeyId: ro.body.id,
    agentTokenId: tok.body.id,
    markers: [org.orgId, name, org.providerId, tw.body.id, ...callIds, ...org.users.flatMap((u) => [u.id, u.phone, u.did])],
  };
}

/** Everything an org's API shows (for before/after comparisons). */
export async function snapshot(base: string, key: string): Promise<Record<string, unknown>> {
  const get = async (path: string) => {
    const r = await send(base, 'GET', path, { key });
    return { status: r.status, body: r.body };
  };
  const users = await get('/v1/users?limit=1000');
  const providers = await get('/v1/providers');
  const members: Record<string, unknown> = {};
  for (const p of ((providers.body?.items ?? []) as Array<{ id: string }>)) members[p.id] = await get(`/v1/providers/${p.id}/users?limit=1000`);
  return {
    users,
    providers,
    members,
    calls: await get('/v1/calls?limit=100'),
    crm: await get('/v1/crm'),
    failed: await get('/v1/crm/failed'),
    dialPolicy: await get('/v1/dial-policy'),
    routing: await get('/v1/routing/policy'),
    audit: await get('/v1/audit?limit=200'),
    apiKeys: await get('/v1/api-keys'),
  };
}

interface RouteTry {
  method: string;
  path: string;
  body?: unknown;
  query?: string;
}

/** Fills a route template with the victim's ids; the body names the victim's ids too. */
function tryFor(method: string, template: string, v: IsolatedOrg): RouteTry | null {
  const ids: Record<string, string> = {
    '{id}': template.startsWith('/v1/users')
      ? v.users[0].id
      : template.startsWith('/v1/calls')
        ? v.callIds[0]
        : template.startsWith('/v1/trials')
          ? 'trl_doesnotexist'
          : template.startsWith('/v1/api-keys')
            ? v.readKeyId
            : template.startsWith('/v1/agent-tokens')
              ? v.agentTokenId
              : v.providerId,
    '{userId}': v.users[0].id,
    '{callId}': v.callIds[0],
  };
  const path = template.replace(/\{[A-Za-z]+\}/g, (m) => ids[m] ?? m).replace('{number}', '%2B19059671234');
  const bodies: Record<string, unknown> = {
    'POST /v1/users/{id}/move': { providerId: v.providerId },
    'POST /v1/providers/{id}/users': { userIds: [v.users[1].id] },
    'POST /v1/providers/{id}/install-all': {},
    'PATCH /v1/providers/{id}': { name: 'taken over' },
    'POST /v1/calls': { userId: v.users[0].id, to: '+19059671234' },
    'POST /v1/trials': { providerIds: [v.providerId], to: '+19059671234' },
    'PUT /v1/users/{id}': { region: 'CA', name: 'taken over' },
    'POST /v1/agent-tokens': { userId: v.users[0].id },
    'PATCH /v1/calls/{id}': { notes: 'taken over' },
    'PUT /v1/providers/{id}/rates': { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.01 }] },
  };
  const key = `${method.toUpperCase()} ${template}`;
  if (template === '/v1/routing/explain') return { method: method.toUpperCase(), path, query: `?userId=${v.users[0].id}&to=%2B19059671234` };
  return { method: method.toUpperCase(), path, body: bodies[key] };
}

export async function isolation(cluster: Cluster, sweep: SecretSweep, seen: (what: string, r: Reply) => void): Promise<ScenarioResult> {
  const f = new Figures('5. Isolation between orgs', 'two orgs (users, sim + Twilio providers, webhook CRM, finished calls); every /v1 route of /openapi.json tried across orgs, both ways');
  const base = cluster.a.url;
  const alpha = await isolatedOrg(cluster, 'Org Alpha', 'alpha', { agent: '416', did: '647' }, sweep);
  const beta = await isolatedOrg(cluster, 'Org Beta', 'beta', { agent: '905', did: '289' }, sweep);
  const spec = (await send(base, 'GET', '/openapi.json')).body;
  const routes: Array<[string, string]> = [];
  for (const [path, ops] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
    if (!path.startsWith('/v1/')) continue;
    for (const m of Object.keys(ops)) routes.push([m, path]);
  }
  f.info('/v1 routes in /openapi.json', routes.length);

  let tried = 0;
  let leaks = 0;
  const wrong: string[] = [];
  const unchanged: string[] = [];
  const changed: string[] = [];
  // the upsert last: the user it creates in the attacker's own org (and its audit entries) would
  // otherwise show up in the attacker's later reads with the victim's id string in them
  routes.sort(([m1, p1], [m2, p2]) => Number(m1 === 'put' && p1 === '/v1/users/{id}') - Number(m2 === 'put' && p2 === '/v1/users/{id}'));
  for (const [victim, attacker] of [
    [alpha, beta],
    [beta, alpha],
  ] as const) {
    const before = await snapshot(base, victim.key);
    for (const [method, template] of routes) {
      if (template === '/v1/orgs') continue; // the operator's route, tried below
      const t = tryFor(method, template, victim);
      if (!t) continue;
      for (const g of cluster.gateways) {
        const r = await send(g.url, t.method, t.path + (t.query ?? ''), { key: attacker.key, body: t.body });
        tried++;
        seen(`${t.method} ${template} (cross-org)`, r);
        // an id the attacker sent may be echoed back ("user x not found"): that tells nothing
        const sent = t.path + (t.query ?? '') + JSON.stringify(t.body ?? '');
        const leaked = victim.markers.filter((m) => r.text.includes(m) && !sent.includes(m));
        if (leaked.length) {
          leaks++;
          wrong.push(`${t.method} ${t.path}: ${attacker.name} saw ${leaked.join(', ')} of ${victim.name}`);
        }
        const hasId = /\{[a-zA-Z]+\}/.test(template) || t.body !== undefined || t.query !== undefined;
        // PUT /v1/users/{id} creates a user of that id in the caller's own org: not a 404, and
        // never the victim's user (checked by the snapshot below); it is removed again at once
        // a number on the do-not-call list is the caller's own org's list entry, not an id of
        // the victim: the answer is about the attacker's list (the leak check above still holds)
        if (template === '/v1/dnc/{number}') continue;
        // the recording link is its own credential (no org key): test/crm/recordings.test.ts
        // shows another org's token refused
        if (template === '/v1/recordings/{callId}') continue;
        if (t.method === 'PUT' && template === '/v1/users/{id}') {
          if (r.status === 200 || r.status === 201) await send(g.url, 'DELETE', t.path, { key: attacker.key });
          continue;
        }
        if (hasId && r.status !== 404) wrong.push(`${t.method} ${t.path}${t.query ?? ''} as ${attacker.name}: ${r.status} (want 404) ${r.text.slice(0, 160)}`);
        if (!hasId && r.status >= 500) wrong.push(`${t.method} ${t.path}: ${r.status}`);
      }
    }
    const after = await snapshot(base, victim.key);
    if (JSON.stringify(before) === JSON.stringify(after)) unchanged.push(victim.name);
    else changed.push(`${victim.name}: ${diffKeys(before, after)}`);
  }

  f.info('cross-org requests (routes × 2 gateways × both directions)', tried);
  f.check('cross-org requests that did not answer 404 as expected', wrong.filter((w) => !w.includes(' saw ')).length, '0', wrong.filter((w) => !w.includes(' saw ')).length === 0, wrong.slice(0, 5).join(' | '));
  f.check("answers showing the other org's data", leaks, '0', leaks === 0, wrong.filter((w) => w.includes(' saw ')).slice(0, 3).join(' | '));
  f.check("victim org's data unchanged (users, providers, members, calls, CRM, policies, audit)", `${unchanged.length}/2`, '2/2', changed.length === 0, changed.join(' | ').slice(0, 600));

  // WebSocket events stay in their org, on every gateway (events cross instances through Redis)
  const sockets: Array<{ org: IsolatedOrg; ws: WebSocket; got: string[] }> = [];
  for (const g of cluster.gateways) {
    for (const org of [alpha, beta]) {
      const ws = new WebSocket(`${g.url.replace('http', 'ws')}/v1/events`, { headers: { authorization: `Bearer ${org.key}` } });
      const entry = { org, ws, got: [] as string[] };
      ws.on('message', (d) => entry.got.push(String(d)));
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
      sockets.push(entry);
    }
  }
  const live: Record<string, string> = {};
  for (const org of [alpha, beta]) {
    const r = await send(base, 'POST', `/webhooks/sim/${org.providerId}/inbound`, { body: { from: '+16139673333', to: org.users[2].did } });
    live[org.name] = r.body?.callId;
  }
  await until(() => sockets.every((s) => s.got.some((m) => m.includes(live[s.org.name]))), 20_000, 'every socket saw its own org\'s inbound call', 100);
  await until(async () => {
    const rs = await Promise.all(Object.values(live).map((id, i) => send(base, 'GET', `/v1/calls/${id}`, { key: [alpha, beta][i].key })));
    return rs.every((r) => r.body?.crmLog?.status === 'logged');
  }, 60_000, 'the WebSocket test calls ended and logged', 200);
  let crossEvents = 0;
  for (const s of sockets) {
    const other = s.org === alpha ? beta : alpha;
    for (const m of s.got) if (other.markers.some((x) => m.includes(x)) || m.includes(live[other.name])) crossEvents++;
    s.ws.close();
  }
  f.info('WebSocket messages received (4 sockets per gateway pair)', sockets.reduce((n, s) => n + s.got.length, 0));
  f.check("WebSocket messages carrying the other org's data", crossEvents, '0', crossEvents === 0);

  // only the operator token creates orgs
  const attempts: Array<[string, string | undefined]> = [
    ['an org API key', alpha.key],
    ['no token', undefined],
    ['a wrong token', cluster.adminToken.slice(0, -2) + 'xx'],
    ['the operator token with a prefix', 'x' + cluster.adminToken],
    ['an empty bearer', ''],
  ];
  let created = 0;
  const refusedOrgs: string[] = [];
  for (const [what, key] of attempts) {
    const r = await send(base, 'POST', '/v1/orgs', { key, body: { name: 'intruder' }, headers: key === '' ? { authorization: 'Bearer ' } : undefined });
    seen(`POST /v1/orgs with ${what}`, r);
    if (r.status === 201) created++;
    else if (r.status === 401 || r.status === 403) refusedOrgs.push(what);
  }
  f.check('orgs created without the operator token', created, '0', created === 0);
  f.check('attempts refused with 401/403', `${refusedOrgs.length}/${attempts.length}`, 'all', refusedOrgs.length === attempts.length);
  const op = await send(base, 'POST', '/v1/orgs', { key: cluster.adminToken, body: { name: 'operator-made' } });
  seen('POST /v1/orgs (operator)', op);
  f.check('the operator token creates an org', op.status, '201', op.status === 201);
  if (op.body?.apiKey) sweep.add('operator-made org API key', op.body.apiKey);
  if (wrong.length) f.info('first problems', wrong.slice(0, 3).join(' | '));
  return f.result();
}
