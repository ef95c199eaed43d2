// A deployment for the cluster suites: two gateway processes on the throwaway Redis Cluster,
// a signed-webhook CRM fake, orgs with a quick sim provider, and a load of clicks and inbound
// webhooks alternating between the gateways, with every outcome recorded.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GatewayProc } from '../stress/lib/cluster.js';
import { killAll, until } from '../stress/lib/proc.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { backendEnv, httpJson, RELAXED_LIMITS } from '../helpers/gateway.js';
import { freePort } from '../helpers/net.js';
import { randomDid, uid } from '../calls/setup.js';

export const SIM = { ringAfterMs: 20, answerAfterMs: 30, durationMs: 40 };

export interface LoadOrg {
  id: string;
  key: string;
  users: string[];
  dids: string[];
  providerId: string;
}

export interface Outcome {
  org: LoadOrg;
  callId: string;
}

export class ClusterDeployment {
  readonly adminToken = 'cluster-' + randomBytes(12).toString('hex');
  readonly dir = mkdtempSync(join(tmpdir(), 'dialgate-cluster-'));
  readonly crm = new WebhookCrmFake();
  gws: GatewayProc[] = [];

  async start(env: Record<string, string> = {}): Promise<this> {
    await this.crm.start();
    const base = {
      ...backendEnv('cluster'),
      DIALGATE_ADMIN_TOKEN: this.adminToken,
      DIALGATE_QUEUE_PREFIX: `{cq${randomBytes(3).toString('hex')}}`,
      DIALGATE_QUEUE_SHARDS: '3',
      LOG_LEVEL: 'warn',
      ...env,
    };
    const ports = [await freePort(), await freePort()];
    this.gws = await Promise.all(ports.map((port, i) => new GatewayProc(`gw${i}`, this.dir, port, { ...base, PUBLIC_URL: `http://127.0.0.1:${port}` }).start()));
    return this;
  }

  async stop(): Promise<void> {
    await killAll();
    await this.crm.close();
    if (process.env.KEEP_TEST_LOGS) console.log('# logs kept in', this.dir);
    else rmSync(this.dir, { recursive: true, force: true });
  }

  req(method: string, path: string, opts: Parameters<typeof httpJson>[3] = {}, gw = 0) {
    return httpJson(this.gws[gw].url, method, path, opts);
  }

  /** A new org over the API (on gateway 0): relaxed limits, the CRM fake, a sim provider, four users with a DID each. */
  async org(name: string): Promise<{ id: string; key: string }> {
    const r = await this.req('POST', '/v1/orgs', { key: this.adminToken, body: { name } });
    if (r.status !== 201) throw new Error(`org: ${r.status} ${r.text}`);
    return { id: r.body.id, key: r.body.apiKey };
  }

  async equip(o: { id: string; key: string }): Promise<LoadOrg> {
    const must = async (p: Promise<{ status: number; text: string; body: any }>, status: number) => {
      const r = await p;
      if (r.status !== status) throw new Error(`${r.status} ${r.text}`);
      return r;
    };
    await must(this.req('PUT', '/v1/dial-policy', { key: o.key, body: { limits: RELAXED_LIMITS } }), 200);
    await must(this.req('PUT', '/v1/crm', { key: o.key, body: this.crm.config() }), 200);
    const p = await must(this.req('POST', '/v1/providers', { key: o.key, body: { kind: 'sim', name: 'sim', config: SIM, install: { scope: 'all', futureUsers: true } } }), 201);
    const org: LoadOrg = { ...o, users: [], dids: [], providerId: p.body.id };
    for (let u = 0; u < 4; u++) {
      const id = uid();
      const did = randomDid();
      await must(this.req('PUT', `/v1/users/${id}`, { key: o.key, body: { region: 'CA', phone: '+14165550100', numbers: [did] } }), 201);
      org.users.push(id);
      org.dids.push(did);
    }
    return org;
  }

  /** Runs clicks and inbound webhooks (one in three) on `workers` lanes until stop() is called. */
  load(orgs: LoadOrg[], workers = 12) {
    const statuses = new Map<number, number>();
    const errors: string[] = [];
    const accepted: Outcome[] = [];
    let running = true;
    let n = 0;
    const lane = async (w: number) => {
      while (running) {
        const org = orgs[n % orgs.length];
        const gw = this.gws[n % this.gws.length];
        const u = n % org.users.length;
        n++;
        const inbound = n % 3 === 0;
        const r = inbound
          ? await httpJson(gw.url, 'POST', `/webhooks/sim/${org.providerId}/inbound`, { body: { from: '+14169671111', to: org.dids[u] } })
          : await httpJson(gw.url, 'POST', '/v1/calls', { key: org.key, body: { userId: org.users[u], to: `+1416967${String(1000 + ((w * 997 + n) % 9000)).padStart(4, '0')}` } });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 500) errors.push(`${r.status} ${r.text.slice(0, 200)}`);
        const callId = inbound ? r.body?.callId : r.body?.id;
        if ((r.status === 201 || r.status === 200) && callId) accepted.push({ org, callId });
      }
    };
    const done = Promise.all(Array.from({ length: workers }, (_, w) => lane(w)));
    return {
      statuses,
      errors,
      accepted,
      async stop() {
        running = false;
        await done;
      },
    };
  }

  /**
   * Every accepted call logged at the CRM exactly once (one record per Idempotency-Key = call
   * id), and nothing else logged. `redeliveries` is how many times a log may be sent again, to be
   * refused by the CRM as a duplicate: none when nothing failed; when Redis failed between the
   * CRM's answer and the log's settlement, the job runs again and the key makes it harmless.
   */
  async assertLoggedOnce(accepted: Outcome[], redeliveries = 0, timeoutMs = 120_000): Promise<void> {
    const ids = new Set(accepted.map((a) => a.callId));
    const started = Date.now();
    let reported = started;
    const missing = () => [...ids].filter((id) => !this.crm.deliveries.has(id));
    try {
      await until(() => {
        const m = missing();
        // a slow drain is worth seeing in CI's output even when it ends in time
        if (m.length && Date.now() - reported > 10_000) {
          reported = Date.now();
          console.log(`# ${Math.round((reported - started) / 1000)} s: ${m.length} of ${ids.size} call logs still missing`);
        }
        return m.length === 0;
      }, timeoutMs, `${ids.size} call logs at the CRM`, 250);
    } catch (e) {
      // name what is missing and where those calls stand, so a failure can be read from CI's log
      const m = missing();
      const byId = new Map(accepted.map((a) => [a.callId, a.org]));
      const states = await Promise.all(m.slice(0, 5).map(async (id) => {
        const r = await this.req('GET', `/v1/calls/${id}`, { key: byId.get(id)!.key }).catch((err: Error) => ({ status: 0, text: err.message }));
        return `${id}: ${r.status} ${r.text.slice(0, 300)}`;
      }));
      throw new Error(`${(e as Error).message}; ${m.length} missing, e.g.\n${states.join('\n')}`);
    }
    if (this.crm.duplicates > redeliveries) throw new Error(`${this.crm.duplicates} call logs sent again (at most ${redeliveries} expected)`);
    const unexpected = [...this.crm.deliveries.keys()].filter((k) => !ids.has(k));
    if (unexpected.length) throw new Error(`logs for calls never accepted: ${unexpected.slice(0, 5).join(', ')}`);
  }
}
