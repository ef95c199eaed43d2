// Authentication of RingCentral webhook deliveries. There is no signature: RingCentral proves a
// notification is genuine only by echoing the verificationToken we gave at subscription time in
// the Verification-Token header. We derive that token with HMAC-SHA256 from the client secret and
// the provider id instead of storing a random one: every instance can check it without shared
// state (the handshake even arrives before the create call returns), it is unique per provider,
// nobody without the client secret can compute it, and it changes when the secret changes (the
// core then calls install() again, which recreates the subscription with the new token).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookReply } from '../../src/providers/adapter.js';

export function verificationTokenFor(providerId: string, clientSecret: string): string {
  return createHmac('sha256', clientSecret).update(`dialgate/ringcentral/webhook/${providerId}`).digest('base64url').slice(0, 32);
}

/** Constant-time comparison that also hides the length of the expected token. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  if (v !== undefined) return Array.isArray(v) ? v[0] : v;
  const lower = name.toLowerCase();
  for (const [k, val] of Object.entries(headers)) if (k.toLowerCase() === lower) return Array.isArray(val) ? val[0] : val;
  return undefined;
}

/**
 * The Validation-Token handshake reply: 200, the token echoed, Content-Type application/json and
 * no body, so the whole response stays far below RingCentral's 1024-byte limit.
 */
export function handshakeReply(validationToken: string): WebhookReply {
  return { statusCode: 200, headers: { 'Validation-Token': validationToken, 'Content-Type': 'application/json' } };
}

/** RingCentral's tokens are UUIDs; anything long or odd is not echoed (header injection, size). */
export function plausibleValidationToken(v: string): boolean {
  return v.length > 0 && v.length <= 200 && /^[\x21-\x7e]+$/.test(v);
}

export const forbidden: WebhookReply = {
  statusCode: 403,
  body: { error: { code: 'forbidden', message: 'RingCentral verification token missing or wrong' } },
};
