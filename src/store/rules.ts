// Domain rules both stores share, kept in one place so the memory store and the Lua scripts
// (src/store/redis/lua) can be checked against the same definitions.

import { DomainError } from '../domain/errors.js';
import type { Provider, Regions } from '../domain/types.js';

/** DESIGN rule 5: a provider serves R iff (allow absent/empty or R in allow) and R not in deny. */
export function servesRegion(regions: Regions | undefined, region: string): boolean {
  const allow = regions?.allow;
  const deny = regions?.deny;
  if (allow && allow.length > 0 && !allow.includes(region)) return false;
  if (deny && deny.includes(region)) return false;
  return true;
}

/**
 * DESIGN rule 2/5: among future-users providers serving the region, the lowest priority wins,
 * then the oldest (createdAt), then the smallest id so the choice is deterministic.
 */
export function pickFutureProvider(providers: Iterable<Provider>, region: string): Provider | null {
  let best: Provider | null = null;
  for (const p of providers) {
    if (!p.futureUsers || !servesRegion(p.regions, region)) continue;
    if (!best || comparePick(p, best) < 0) best = p;
  }
  return best;
}

function comparePick(a: Provider, b: Provider): number {
  if (a.priority !== b.priority) return a.priority < b.priority ? -1 : 1;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Opaque pagination cursors: base64url of the last position returned. */
export function encodeCursor(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

/** A cursor this API gave out, decoded; anything else is refused (DomainError invalid_cursor). */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  // positions are printable ASCII ids and sort keys; a re-encoding must give the cursor back
  if (!/^[\x21-\x7e ]+$/.test(text) || encodeCursor(text) !== cursor) {
    throw new DomainError('invalid_cursor', 'cursor is not one this listing gave out');
  }
  return text;
}

/**
 * Sort key of a call in listings (newest first): zero-padded creation time in ms, then the id,
 * so equal timestamps still page deterministically.
 */
export function callSortKey(createdAt: string, callId: string): string {
  const ms = Date.parse(createdAt);
  return `${String(Number.isFinite(ms) ? ms : 0).padStart(15, '0')}:${callId}`;
}

/** Page size the stores accept: at least 1, at most 1000. */
export function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return 50;
  return Math.min(1000, Math.max(1, Math.floor(limit)));
}

export function dedupe(ids: string[]): string[] {
  return [...new Set(ids)];
}
