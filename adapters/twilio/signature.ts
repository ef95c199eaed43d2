// X-Twilio-Signature, as the project's protocol notes (PROTOCOLS.md §1) describe it (twilio-node src/webhooks/webhooks.ts
// at 45d3d65a is the reference). Twilio's own URL handling is inconsistent, so a request is valid when
// the signature matches any of the candidate URLs below; all comparisons are constant time.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parse as legacyParse, stringify as legacyStringify } from 'node:querystring';

export type SignedParams = Record<string, string | string[] | undefined>;

/** HMAC-SHA1 (base64) over the URL followed by every sorted `name+value` pair. */
export function computeSignature(authToken: string, url: string, params: SignedParams): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      // Twilio signs each distinct value once, in sorted order, whatever order they arrived in
      for (const v of [...new Set(value)].sort()) data += name + v;
    } else {
      data += name + value;
    }
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

export function bodySha256(rawBody: Buffer | string): string {
  return createHash('sha256').update(rawBody).digest('hex');
}

/** Constant-time string comparison that does not leak the expected length through an exception. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    // still spend the comparison so timing does not depend on where the lengths differ
    timingSafeEqual(bb, bb);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

function withStandardPort(u: URL): string {
  // WHATWG URL drops default ports on toString(), so the ":443"/":80" form is built by hand
  const port = u.protocol === 'https:' ? ':443' : ':80';
  let out = u.protocol + '//';
  if (u.username || u.password) out += u.username + (u.password ? ':' + u.password : '') + '@';
  return out + u.host + port + u.pathname + u.search + u.hash;
}

function withPort(u: URL): string {
  return u.port ? u.toString() : withStandardPort(u);
}

function withoutPort(u: URL): string {
  const copy = new URL(u.toString());
  copy.port = '';
  return copy.toString();
}

/**
 * Re-encodes the query with Node's legacy `querystring` (which leaves `'` alone where WHATWG URL
 * writes %27; twilio-node fix 6cba64c39). Done on the string so an explicit port survives.
 */
function withLegacyQuerystring(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const search = hash < 0 ? url.slice(q + 1) : url.slice(q + 1, hash);
  if (!search) return url;
  return url.slice(0, q) + '?' + legacyStringify(legacyParse(search)) + (hash < 0 ? '' : url.slice(hash));
}

/**
 * The URLs a valid signature may have been computed over: the URL exactly as given (older Twilio
 * signatures cover a raw `'`), the port stripped (any port), the standard port added, and each of
 * those two re-encoded with the legacy querystring.
 */
export function candidateUrls(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  const noPort = withoutPort(parsed);
  const port = withPort(parsed);
  return [...new Set([url, noPort, port, withLegacyQuerystring(noPort), withLegacyQuerystring(port)])];
}

/** Validates a form (or GET) webhook: `params` are the POST params, `{}` for GET. */
export function validateRequest(authToken: string, signature: string | undefined, url: string, params: SignedParams): boolean {
  if (!signature || !authToken) return false;
  let ok = false;
  // every candidate is checked (no early exit) so timing does not reveal which one matched
  for (const candidate of candidateUrls(url)) {
    if (safeEqual(signature, computeSignature(authToken, candidate, params))) ok = true;
  }
  return ok;
}

/**
 * Validates a JSON webhook: Twilio puts `bodySHA256=<hex sha256 of the raw body>` in the URL query
 * and signs the URL with no params, so both the signature and the body hash must match.
 */
export function validateRequestWithBody(authToken: string, signature: string | undefined, url: string, rawBody: Buffer | string): boolean {
  let claimed: string | null;
  try {
    claimed = new URL(url).searchParams.get('bodySHA256');
  } catch {
    return false;
  }
  if (!claimed) return false;
  const sigOk = validateRequest(authToken, signature, url, {});
  const bodyOk = safeEqual(claimed.toLowerCase(), bodySha256(rawBody));
  return sigOk && bodyOk;
}
