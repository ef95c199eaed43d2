// Shared setup for the call-log suites: a backend with a fresh org, calls driven to a terminal
// status through the backend's own transition rules, and polling helpers.

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { CrmKindDefinition } from '../../src/crm/adapter.js';
import { CRM_SETTING, CrmConnectors } from '../../src/crm/connectors.js';
import type { Call, CallDirection, CallStatus, CrmRecordRef } from '../../src/domain/types.js';
import type { Backend } from '../../src/store/backend.js';
import type { SharedState } from '../../src/store/state/port.js';
import { testBackend, type BackendKind, type TestBackend } from '../helpers/backend.js';

export const silentLogger = pino({ level: 'silent' });

export function rid(prefix = ''): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

export type TestStore = TestBackend;

/** A backend of this kind (default: the test Redis) with its own key prefix and queue tag. */
export function backendFor(kind: BackendKind = 'redis', keyPrefix = `dgt-${rid()}:`, queuePrefix?: string): Promise<TestStore> {
  return testBackend(kind, { keyPrefix, queuePrefix });
}

export async function setupOrg(backend: Backend, crm: Record<string, unknown> | null, user: { crmUserId?: string; phone?: string } = {}) {
  const orgId = rid('org_');
  const now = new Date().toISOString();
  await backend.orgs.createOrg({ id: orgId, name: 'Test org', createdAt: now }, { keyId: rid('k_'), orgId, secretHash: 'x'.repeat(64), createdAt: now });
  const userId = rid('u_');
  await backend.directory.putUser(orgId, userId, { region: 'US', numbers: [], phone: user.phone ?? '+14155559999', ...(user.crmUserId ? { crmUserId: user.crmUserId } : {}) }, now);
  if (crm) await backend.settings.put(orgId, CRM_SETTING, crm);
  return { orgId, userId };
}

export interface CallSpec {
  direction?: CallDirection;
  /** the customer's number */
  customer?: string;
  outcome?: Extract<CallStatus, 'completed' | 'failed' | 'busy' | 'no-answer' | 'canceled'>;
  answered?: boolean;
  durationSec?: number;
  crmRecord?: CrmRecordRef;
  /** a provider trial's call (no user, never handed to the call log) */
  trial?: boolean;
}

/** Creates a call and moves it through the state machine to its terminal status. */
export async function finishedCall(backend: Backend, orgId: string, userId: string, spec: CallSpec = {}): Promise<Call> {
  const direction = spec.direction ?? 'outbound';
  const customer = spec.customer ?? '+14155550100';
  const outcome = spec.outcome ?? 'completed';
  const answered = spec.answered ?? outcome === 'completed';
  const id = rid('call_');
  const t0 = Date.now() - 120_000;
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const call: Call = {
    id,
    orgId,
    userId,
    providerId: 'prov_test',
    providerKind: 'sim',
    direction,
    from: direction === 'outbound' ? '+14155559999' : customer,
    to: direction === 'outbound' ? customer : '+14155559999',
    status: 'queued',
    createdAt: at(0),
    updatedAt: at(0),
    history: [{ status: 'queued', at: at(0) }],
    ...(spec.crmRecord ? { crmRecord: spec.crmRecord } : {}),
    ...(spec.trial ? { trial: true, trialId: rid('trl_') } : {}),
  };
  const { calls } = backend;
  await calls.createCall(call);
  await calls.transition(orgId, id, { status: 'dialing', at: at(1) });
  await calls.transition(orgId, id, { status: 'ringing', at: at(2) });
  if (answered) await calls.transition(orgId, id, { status: 'answered', at: at(5) });
  const r = await calls.transition(orgId, id, {
    status: outcome,
    at: at(5 + (spec.durationSec ?? 65)),
    ...(answered ? { durationSec: spec.durationSec ?? 65 } : {}),
  });
  if (!r?.becameTerminal) throw new Error('test call did not become terminal');
  return r.call;
}

/** Polls until `cond` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function crmLogs(backend: Backend, orgId: string, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await backend.calls.getCall(orgId, id))?.crmLog));
}

/** The org CRM connections as the composition roots build them: config from the `crm` setting, shared state of the backend (or the one given). */
export function connectors(backend: Backend, kinds: CrmKindDefinition[], shared: SharedState = backend.shared): CrmConnectors {
  return new CrmConnectors({ kinds, configOf: (orgId) => backend.settings.get(orgId, CRM_SETTING), shared, logger: silentLogger });
}
