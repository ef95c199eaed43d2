// The gateway's own links to recordings and voicemails: `${PUBLIC_URL}/v1/recordings/{callId}?token=...`.
// The token names the org, the kind and an expiry, signed with HMAC-SHA256 under a key derived
// from the operator token (every instance of a deployment shares it; rotating it revokes every
// link), so a link needs no other credential, cannot be moved to another call or org, and stops
// working after DIALGATE_RECORDING_LINK_TTL_SEC. Tokens are never logged (the request serializer
// redacts `token=`).

import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export type MediaKind = 'recording' | 'voicemail';

/** The signing key for recording links, derived from the operator token (never the token itself). */
export function recordingLinkKey(operatorToken: string): Buffer {
  return Buffer.from(hkdfSync('sha256', operatorToken, 'dialgate', 'recording links v1', 32));
}

export type LinkCheck = { ok: true; orgId: string; kind: MediaKind } | { ok: false; reason: 'malformed' | 'expired' | 'bad_signature' };

const KIND_CODE: Record<MediaKind, string> = { recording: 'r', voicemail: 'v' };

export class RecordingLinks {
  constructor(
    private readonly key: Buffer,
    private readonly ttlSec: number,
    private readonly publicUrl: () => string,
  ) {}

  private sign(orgId: string, callId: string, kind: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${orgId}\n${callId}\n${kind}\n${exp}`).digest('base64url');
  }

  token(orgId: string, callId: string, kind: MediaKind, now = Date.now()): string {
    const exp = Math.floor(now / 1000) + this.ttlSec;
    const k = KIND_CODE[kind];
    return `${k}.${exp}.${Buffer.from(orgId).toString('base64url')}.${this.sign(orgId, callId, k, exp)}`;
  }

  url(orgId: string, callId: string, kind: MediaKind): string {
    return `${this.publicUrl()}/v1/recordings/${encodeURIComponent(callId)}?token=${this.token(orgId, callId, kind)}`;
  }

  /** Whether `token` is a live link to this call, and whose. */
  verify(callId: string, token: string, now = Date.now()): LinkCheck {
    const m = /^([rv])\.(\d{1,12})\.([A-Za-z0-9_-]{1,200})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    const [, k, expRaw, orgB64, sig] = m;
    const exp = Number(expRaw);
    const orgId = Buffer.from(orgB64, 'base64url').toString('utf8');
    const want = Buffer.from(this.sign(orgId, callId, k, exp));
    if (!timingSafeEqual(want, Buffer.from(sig))) return { ok: false, reason: 'bad_signature' };
    if (exp * 1000 < now) return { ok: false, reason: 'expired' };
    return { ok: true, orgId, kind: k === 'r' ? 'recording' : 'voicemail' };
  }
}
