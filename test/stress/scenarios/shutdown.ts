// Scenario 3: a gateway stopped under load. SIGTERM: it drains — requests in flight complete,
// nothing it accepted is lost (provider callbacks reach the other gateway through the "load
// balancer", here FakeTwilio's route). SIGKILL: every provider webhook it acknowledged (a signed
// Twilio "completed" callback answered 204) still produces its call log — the job is persisted
// before the answer — and the gateway comes back after a restart.

import { FakeTwilio, newSid, rfc2822 } from '../../fakes/twilio/server.js';
import { caNumber, Cluster, destination, setupOrg, type GatewayProc } from '../lib/cluster.js';
import { sleep, until } from '../lib/proc.js';
import { Figures, type ScenarioResult } from '../lib/stats.js';
import { fmtCounts, Traffic } from '../lib/traffic.js';
import { describeMissing, waitForLogs } from '../lib/verify.js';

export interface ShutdownParams {
  users: number;
  clicksPerSec: number;
  /** load before SIGTERM, and after it */
  beforeMs: number;
  afterMs: number;
  /** slow (1.5 s) Twilio API answers right before SIGTERM, so requests are surely in flight */
  slowDials: number;
  /** signed inbound + completed webhook pairs in the SIGKILL phase */
  webhookCalls: number;
  webhookParallel: number;
  logTimeoutMs: number;
}

export const SHUTDOWN_SHORT: ShutdownParams = { users: 150, clicksPerSec: 20, beforeMs: 3000, afterMs: 3000, slowDials: 6, webhookCalls: 120, webhookParallel: 8, logTimeoutMs: 60_000 };
export const SHUTDOWN_LONG: ShutdownParams = { users: 1500, clicksPerSec: 100, beforeMs: 20_000, afterMs: 20_000, slowDials: 40, webhookCalls: 3000, webhookParallel: 32, logTimeoutMs: 300_000 };

/** The public address both gateways sign webhooks for (as behind a load balancer). */
export const LB_PUBLIC_URL = 'http://dialgate-lb.test';

export async function shutdown(cluster: Cluster, p: ShutdownParams): Promise<ScenarioResult> {
  const f = new Figures('3. SIGTERM and SIGKILL under load', `2 gateways behind one public URL, Twilio fake; ${p.clicksPerSec} clicks/s; ${p.webhookCalls} webhook calls in the SIGKILL phase`);
  if (cluster.opts.publicUrl !== LB_PUBLIC_URL) throw new Error(`the cluster must be started with publicUrl ${LB_PUBLIC_URL}`);
  const [a, b] = cluster.gateways;
  const fake = await new FakeTwilio({ scenario: { talkMs: 300, durationSec: 2 }, stepMs: 20 }).start();
  let rotation: GatewayProc[] = [a, b];
  let rr = 0;
  fake.route = (u) => {
    const g = rotation[rr++ % rotation.length];
    return u.replace(LB_PUBLIC_URL, g.url);
  };
  try {
    const org = await setupOrg(b.url, cluster.adminToken, {
      name: 'shutdown',
      users: p.users,
      provider: { kind: 'twilio', config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: caNumber('416', 9999), apiBaseUrl: fake.url, timeoutMs: 10_000 } },
      crm: cluster.crm,
      limits: { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000 },
      areas: { agent: '514', did: '438' },
    });

    // ---- SIGTERM ------------------------------------------------------------------------
    const traffic = new Traffic({
      org,
      targets: () => rotation.map((g) => g.url),
      clicksPerSec: p.clicksPerSec,
      inboundPerSec: 0,
      durationMs: p.beforeMs + p.afterMs,
      callLengthMs: 4000,
      timeoutMs: 20_000,
      destOffset: 40_000,
    }).start();
    await sleep(p.beforeMs);
    // dials only: the calls ending meanwhile read their price from Twilio, and those reads must
    // not take the hangs meant to keep clicks in flight at SIGTERM
    fake.hang(p.slowDials, 2000, { dialsOnly: true });
    await sleep(400);
    // what a rolling deploy does: take A out of the balancer, let the balancer settle (a request
    // written to a connection A's kernel accepted but A never read is reset when the listener
    // closes — no server can answer those), then SIGTERM it with requests still in flight
    rotation = [b];
    await sleep(500);
    const termAt = traffic.now();
    a.kill('SIGTERM');
    const termT0 = performance.now();
    const exit = await Promise.race([a.exited, sleep(30_000).then(() => null)]);
    const exitMs = performance.now() - termT0;
    await traffic.done;

    // A's own log says which requests it had received before SIGTERM (X-Request-Id)
    const aLog = a.output().split('\n').filter((l) => l.startsWith('{')).map((l) => {
      try {
        return JSON.parse(l) as { msg?: string; time?: number; reqId?: string };
      } catch {
        return {};
      }
    });
    const termLogged = aLog.find((l) => /shutting down/.test(l.msg ?? ''))?.time ?? Infinity;
    const receivedBefore = new Set(aLog.filter((l) => l.msg === 'incoming request' && (l.time ?? 0) <= termLogged).map((l) => l.reqId));
    const answeredBefore = new Set(aLog.filter((l) => l.msg === 'request completed' && (l.time ?? 0) <= termLogged).map((l) => l.reqId));
    const toA = traffic.sent.filter((s) => s.target === a.url);
    const inflight = toA.filter((s) => receivedBefore.has(s.reqId) && !answeredBefore.has(s.reqId));
    const inflightDone = inflight.filter((s) => s.status !== 0);
    const inflight201 = inflight.filter((s) => s.status === 201);
    const unread = toA.filter((s) => s.status === 0 && !receivedBefore.has(s.reqId));
    const errorsOnB = traffic.sent.filter((s) => s.target === b.url && (s.status === 0 || s.status >= 500));
    f.info('clicks sent', traffic.sent.length);
    f.info('answers', fmtCounts(traffic.statusCounts()));
    f.check('requests A was handling at SIGTERM that completed', `${inflightDone.length}/${inflight.length}`, 'all (≥ 1)', inflight.length > 0 && inflightDone.length === inflight.length, fmtCounts(Object.fromEntries(inflight.map((s) => [`${s.status || s.error}`, 1]))));
    f.info('of those answered 201', inflight201.length);
    f.info('requests sent to A it never read (reset when it closed; the balancer had not settled)', unread.length);
    f.info('longest in-flight request on A (ms)', inflight.length ? Math.max(...inflight.map((s) => s.ms)) : 0);
    f.check('A exit code after SIGTERM', exit ? String(exit.code) : 'still running', '0', exit?.code === 0, a.lastOutput().slice(-500));
    f.check('A exited within (ms)', exitMs, '< 15000', exitMs < 15_000);
    f.check('errors on B during the drain (5xx, transport)', errorsOnB.length, '0', errorsOnB.length === 0);
    await fake.idle(60_000).catch((e) => f.fail(String(e.message)));
    const cbProblems = fake.problems.filter((x) => /status callback/.test(x));
    f.info('Twilio status callbacks that failed around the SIGTERM (not answered 2xx)', cbProblems.length);
    const accepted = traffic.acked();
    const logs = await waitForLogs(cluster.crm, accepted, p.logTimeoutMs);
    f.info('calls accepted (201) by A and B', accepted.length);
    f.check('accepted calls with their call log', logs.logged, `= ${logs.acked}`, logs.missing.length === 0, logs.missing.length ? await describeMissing(b, org.key, logs.missing) : undefined);

    // A comes back
    a.spawn();
    await a.ready();
    rotation = [a, b];

    // ---- SIGKILL --------------------------------------------------------------------------
    rotation = [a];
    const acked: string[] = [];
    const ackedVoice = { n: 0 };
    let killed = false;
    let next = 0;
    const wh = `${LB_PUBLIC_URL}/webhooks/twilio/${org.providerId}`;
    const killAfter = Math.floor(p.webhookCalls / 2);
    const chain = async () => {
      while (next < p.webhookCalls) {
        const i = next++;
        if (i === killAfter && !killed) {
          killed = true;
          a.kill('SIGKILL');
        }
        const sid = newSid('CA');
        const user = org.users[i % org.users.length];
        const base = { AccountSid: fake.accountSid, CallSid: sid, From: destination(60_000 + i), To: user.did, Direction: 'inbound', ApiVersion: '2010-04-01' };
        const voice = await fake.post('voice', `${wh}/voice`, { ...base, CallStatus: 'ringing' });
        if (voice.statusCode !== 200) continue;
        ackedVoice.n++;
        const callId = /callId=([A-Za-z0-9_-]+)/.exec(voice.body)?.[1];
        const done = await fake.post('status', `${wh}/status`, { ...base, CallStatus: 'completed', CallDuration: '3', Timestamp: rfc2822(new Date()), SequenceNumber: '3' });
        if ((done.statusCode === 204 || done.statusCode === 200) && callId) acked.push(callId);
      }
    };
    const killT0 = Date.now();
    await Promise.all(Array.from({ length: p.webhookParallel }, chain));
    const kill = await a.exited;
    f.info('webhook pairs sent to A (inbound voice, then completed)', p.webhookCalls);
    f.info('inbound webhooks A acknowledged', ackedVoice.n);
    f.info('"completed" webhooks A acknowledged (204) before/around SIGKILL', acked.length);
    f.check('A was killed (signal)', String(kill.signal), 'SIGKILL', kill.signal === 'SIGKILL');
    const restartT0 = performance.now();
    a.spawn();
    await a.ready();
    f.info('A ready again after restart (ms)', performance.now() - restartT0);
    rotation = [a, b];
    const klogs = await waitForLogs(cluster.crm, acked, p.logTimeoutMs);
    f.check('acknowledged "completed" webhooks with their call log', klogs.logged, `= ${klogs.acked}`, klogs.missing.length === 0 && klogs.acked > 0, klogs.missing.length ? await describeMissing(b, org.key, klogs.missing) : undefined);
    f.check('call logs lost', klogs.missing.length, '0', klogs.missing.length === 0);
    f.info('redeliveries refused by the CRM as duplicates (whole run)', klogs.redeliveries);
    f.info('SIGKILL phase duration (s)', (Date.now() - killT0) / 1000);
  } finally {
    await fake.close();
  }
  return f.result();
}
