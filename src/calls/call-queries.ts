// Reading calls: one by id, or a page of the org's (optionally one user's, one status's), as
// clients see them.

import { DomainError } from '../domain/errors.js';
import { toPublicCall, type CallStatus, type Page, type PublicCall } from '../domain/types.js';
import type { CallStore } from '../store/calls/port.js';

/** at most this many calls in a new agent screen's snapshot */
const LIVE_SNAPSHOT_MAX = 1000;

export class CallQueries {
  constructor(private readonly calls: Pick<CallStore, 'getCall' | 'listCalls' | 'unresolved' | 'liveCalls'>) {}

  /** Calls whose CRM record is still to be picked among several candidates (GET /v1/crm/unresolved). */
  async unresolved(orgId: string, limit: number): Promise<PublicCall[]> {
    return (await this.calls.unresolved(orgId, limit)).map(toPublicCall);
  }

  /** The live calls a new agent screen is shown first (the org's, or one user's). */
  async live(orgId: string, userId?: string): Promise<PublicCall[]> {
    return (await this.calls.liveCalls(orgId, { ...(userId !== undefined ? { userId } : {}), limit: LIVE_SNAPSHOT_MAX })).map(toPublicCall);
  }

  async get(orgId: string, callId: string): Promise<PublicCall> {
    const call = await this.calls.getCall(orgId, callId);
    if (!call) throw new DomainError('call_not_found', `call ${callId} not found`);
    return toPublicCall(call);
  }

  async list(orgId: string, q: { userId?: string; status?: CallStatus; limit: number; cursor?: string }): Promise<Page<PublicCall>> {
    const page = await this.calls.listCalls(orgId, q);
    return { items: page.items.map(toPublicCall), nextCursor: page.nextCursor };
  }
}
