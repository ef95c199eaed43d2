// Wires the CRM side into a gateway: the call-log queue (BullMQ on Redis, in-process in local
// mode) with its worker in this process unless disabled, screen-pop caller matching, PhoneBridge
// live notifications, and the CRM routes. src/main.ts and the tests use it; src/worker.ts runs
// the same queue's worker as its own process.

import { parseClickToDial } from '../adapters/crm/zoho/index.js';
import type { CallObserver } from './calls/call-service.js';
import { CrmService } from './crm/crm-service.js';
import type { Call, CallStatus, Provider } from './domain/types.js';
import type { GatewayExtension, GatewayParts } from './gateway.js';
import { crmRoutes } from './http/routes/crm.js';
import { matchCaller, notifyCrm, type CallLogDeps } from './jobs/call-log-worker.js';
import { createCallLogQueue } from './jobs/worker-main.js';
import { wireEvidence } from './trials/wiring.js';

export interface WiringOptions {
  /** set by tests that isolate instances on one Redis; production uses config.queuePrefix */
  keyPrefix?: string;
}

const MATCH_TIMEOUT_MS = 1500;

/** The queue prefix: hash-tagged; test instances with their own key prefix get their own queue. */
export function queuePrefixFor(parts: GatewayParts, opts: WiringOptions): string {
  if (!opts.keyPrefix) return parts.config.queuePrefix;
  return `{${opts.keyPrefix.replace(/[^A-Za-z0-9]/g, '')}-q}`;
}

/** Fans call events out to several observers (live figures, CRM notifications). */
export function observers(list: CallObserver[]): CallObserver {
  return {
    dialed(call: Call, provider: Provider, seconds: number, errorCode?: string) {
      for (const o of list) o.dialed(call, provider, seconds, errorCode);
    },
    transitioned(call: Call, status: CallStatus) {
      for (const o of list) o.transitioned(call, status);
    },
  };
}

export async function wireCallLog(parts: GatewayParts, opts: WiringOptions = {}): Promise<GatewayExtension> {
  const { config, store, logger } = parts;
  const deps: CallLogDeps = { store, crmKinds: parts.crmKinds, logger };
  const queue = createCallLogQueue({
    ...deps,
    redisUrl: config.redisUrl,
    prefix: queuePrefixFor(parts, opts),
    registry: parts.metrics.registry,
  });
  if (config.inProcessWorker) queue.startWorker(config.workerConcurrency);
  const crm = new CrmService(store, parts.crmKinds, parts.audit, queue, parts.calls);

  // live call states for CRMs that take them (PhoneBridge); best effort, never in the call path
  const crmNotify: CallObserver = {
    dialed() {},
    transitioned(call) {
      if (!call.trial) void notifyCrm(deps, call.orgId, call);
    },
  };
  // live per-provider figures and trials (src/perf, src/trials)
  const evidence = wireEvidence(parts, { queuePrefix: queuePrefixFor(parts, opts) });
  return {
    callLog: queue,
    observer: observers([crmNotify, ...evidence.observers]),
    matcher: async (orgId, call) => (call.from ? matchCaller(deps, orgId, call.from, MATCH_TIMEOUT_MS) : null),
    plugins: [crmRoutes(crm, parseClickToDial), ...evidence.plugins],
    close: async () => {
      await evidence.close();
      await queue.close();
    },
  };
}
