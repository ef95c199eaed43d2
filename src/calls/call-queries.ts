// Reading calls: one by id, or a page of the org's (optionally one user's, one status's), as
// clients see them.

import { DomainError } from '../domain/errors.js';
import { toPublicCall, type CallStatus, type Page, type PublicCall } from '../domain/types.js';
import type { CallStore } from '../store/calls/port.js';

export class CallQueries {
  constructor(private readonly calls: Pick<CallStore, 'getCall' | 'listCalls'>) {}

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
