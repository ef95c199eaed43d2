// GET /v1/recordings/{callId}?token=...: a recording or voicemail streamed from its provider, so
// provider credentials never leave the gateway. The token alone authorises it (src/calls/recording-links.ts):
// 403 tampered or expired (or minted for another call or org), 404 when the call has none.

import { DomainError } from '../domain/errors.js';
import type { OrgConfigCache } from '../directory/org-config.js';
import type { MediaStream } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { CallStore } from '../store/calls/port.js';
import type { RecordingLinks } from './recording-links.js';

export interface RecordingsDeps {
  links: RecordingLinks;
  calls: Pick<CallStore, 'getCall'>;
  configs: OrgConfigCache;
  providers: Pick<ProviderRuntime, 'adapter'>;
}

export class Recordings {
  constructor(private readonly deps: RecordingsDeps) {}

  async stream(callId: string, token: string, range?: string): Promise<MediaStream> {
    const check = this.deps.links.verify(callId, token);
    if (!check.ok) throw new DomainError('forbidden', check.reason === 'expired' ? 'this recording link has expired' : 'this recording link is not valid');
    const { orgId, kind } = check;
    const call = await this.deps.calls.getCall(orgId, callId);
    const ref = kind === 'recording' ? call?.recordingRef : call?.voicemailRef;
    const state = kind === 'recording' ? call?.recording : call?.voicemail;
    if (!call || !ref || state?.status !== 'available') throw new DomainError('not_found', `call ${callId} has no ${kind}`);
    const provider = (await this.deps.configs.get(orgId)).provider(call.providerId);
    const adapter = provider ? this.deps.providers.adapter(provider) : null;
    if (!adapter?.fetchMedia) throw new DomainError('not_found', `the ${kind} of call ${callId} is no longer available from its provider`);
    const media = await adapter.fetchMedia(call, kind, ref, range);
    if (media.status === 404) throw new DomainError('not_found', `the provider no longer has the ${kind} of call ${callId}`);
    return media;
  }
}
