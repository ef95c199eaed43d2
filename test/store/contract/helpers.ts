// Small tools every contract suite uses: random ids, fixed timestamps, inputs, paging, errors,
// and a click-to-call request built the way the call service builds one (snapshots first).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DomainError } from '../../../src/domain/errors.js';
import type { Admission, Bucket } from '../../../src/domain/limits.js';
import type { Call, PublicCall, User, UserInput } from '../../../src/domain/types.js';
import type { Backend } from '../../../src/store/backend.js';
import type { ClickRequest, ClickResult } from '../../../src/store/calls/port.js';
import type { ProviderInput } from '../../../src/store/directory/port.js';
import type { DeliveredEvent, EventType } from '../../../src/store/events/port.js';

export const rid = (p = 'x'): string => `${p}${randomBytes(6).toString('hex')}`;

/** Deterministic timestamps: t(0) is 2024-01-01T00:00:00.000Z, t(n) n seconds later. */
export const t = (sec: number): string => new Date(Date.UTC(2024, 0, 1) + sec * 1000).toISOString();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function providerInput(over: Partial<ProviderInput> = {}): ProviderInput {
  return { kind: 'sim', name: 'sim', config: {}, regions: {}, priority: 0, scope: 'specific', futureUsers: false, ...over };
}

export function userInput(region: string, over: Partial<UserInput> = {}): UserInput {
  return { region, numbers: [], ...over };
}

/**
 * Provider ids are global (webhooks resolve the org from the provider id alone), so each case
 * names its providers with a random suffix: P.pa, P['ca-p5'], ...
 */
export function pids<const N extends string>(...names: N[]): Record<N, string> {
  return Object.fromEntries(names.map((n) => [n, `${n}-${randomBytes(4).toString('hex')}`])) as Record<N, string>;
}

export const ids = (items: { id: string }[]): string[] => items.map((u) => u.id);

export async function rejectsWith(p: Promise<unknown>, code: string, details?: Record<string, unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError, `expected a DomainError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (details) assert.deepEqual(e.details, details);
    return e;
  }
  assert.fail(`expected DomainError ${code}, but it resolved`);
}

/** Every item of a listing, page by page, checking page sizes and that the cursors end. */
export async function allPages<T>(fetch: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null }>, limit: number): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await fetch(cursor);
    assert.ok(page.items.length <= limit, 'a page is never larger than its limit');
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    assert.equal(page.items.length, limit, 'a page with a next cursor is full');
    cursor = page.nextCursor;
  }
  assert.fail('pagination did not terminate');
}

/** Polls until cond() holds or the deadline passes (no fixed sleeps). */
export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

/** A small deterministic PRNG (mulberry32) so a failing shuffle can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A call for createCall (no limits): queued on p1 unless told otherwise. */
export function baseCall(orgId: string, id: string, over: Partial<Call> = {}): Call {
  return {
    id,
    orgId,
    userId: 'u1',
    providerId: 'p1',
    providerKind: 'sim',
    direction: 'outbound',
    to: '+15145550100',
    status: 'queued',
    createdAt: t(0),
    updatedAt: t(0),
    history: [{ status: 'queued', at: t(0) }],
    ...over,
  };
}

/** The live-call cap of one user (a slot per live call, held for a minute at most). */
export function liveCap(userId: string, max: number): (callId: string) => Admission {
  return (callId) => ({ buckets: [], cap: { userId, max, callId } });
}

/** A bucket that never refills during a test. */
export function bucket(name: string, id: string, capacity: number, refillPerMs = 1e-9): Bucket {
  return { name, id, capacity, refillPerMs };
}

export interface ClickOptions {
  callId?: string;
  to?: string;
  /** providers to try (default: the user's own, kind sim) */
  chain?: { id: string; kind: string }[];
  /** the limits to take; a function gets the new call's id (a live-call cap names it) */
  admission?: Admission | ((callId: string) => Admission);
  idempotency?: { key: string; fingerprint: string; ttlSec: number };
  /** overrides of the snapshots the request claims */
  expect?: Partial<ClickRequest['expect']>;
  createdAt?: string;
}

/** A click-to-call as the call service makes one: the org config and the user read first, then the script. */
export async function clickRequest(b: Backend, orgId: string, userId: string, o: ClickOptions = {}): Promise<ClickRequest> {
  const [cfg, vu] = await Promise.all([b.directory.orgConfig(orgId), b.directory.getUserVersioned(orgId, userId)]);
  const createdAt = o.createdAt ?? new Date().toISOString();
  const providerId = vu?.user.providerId ?? null;
  const id = o.callId ?? rid('call_');
  const call: Call = {
    id,
    orgId,
    userId,
    providerId: '',
    providerKind: '',
    direction: 'outbound',
    to: o.to ?? '+15145550100',
    status: 'queued',
    createdAt,
    updatedAt: createdAt,
    history: [{ status: 'queued', at: createdAt }],
  };
  return {
    call,
    expect: { orgVersion: cfg.version, userVersion: vu?.version ?? 0, providerId, ...o.expect },
    chain: o.chain ?? (providerId ? [{ id: providerId, kind: 'sim' }] : []),
    admission: typeof o.admission === 'function' ? o.admission(id) : (o.admission ?? { buckets: [] }),
    ...(o.idempotency ? { idempotency: o.idempotency } : {}),
  };
}

export async function click(b: Backend, orgId: string, userId: string, o: ClickOptions = {}): Promise<ClickResult> {
  return b.calls.click(await clickRequest(b, orgId, userId, o));
}

/** A click that must create its call; returns the call. */
export async function clickCreated(b: Backend, orgId: string, userId: string, o: ClickOptions = {}): Promise<Call> {
  const r = await click(b, orgId, userId, o);
  assert.equal(r.kind, 'created', `click: ${JSON.stringify(r)}`);
  return (r as Extract<ClickResult, { kind: 'created' }>).call;
}

/** An org with one provider (kind sim) and one user on it: what most call tests start from. */
export async function orgWithUser(b: Backend, o: { users?: string[]; providers?: number; region?: string } = {}): Promise<{ org: string; p: string[]; users: User[] }> {
  const org = rid('org');
  const p: string[] = [];
  for (let i = 0; i < (o.providers ?? 1); i++) {
    const id = rid(`p${i}-`);
    await b.directory.createProvider(org, id, providerInput({ futureUsers: i === 0, priority: i }), t(0));
    p.push(id);
  }
  const users: User[] = [];
  for (const u of o.users ?? ['u1']) users.push((await b.directory.putUser(org, u, userInput(o.region ?? 'CA', { numbers: [] }), t(1))).user);
  return { org, p, users };
}

/** Every event of an org that reaches this backend's bus, from the moment it resolves. */
export async function listen(b: Backend, orgId: string): Promise<{
  events: DeliveredEvent[];
  /** the first event (already here or coming within 3 s) that matches */
  next(type: EventType, callId?: string): Promise<{ ev: DeliveredEvent; body: { type: string; call: PublicCall } & Record<string, unknown> }>;
  stop(): void;
}> {
  const events: DeliveredEvent[] = [];
  const stop = await b.events.subscribe(orgId, (ev) => events.push(ev));
  const match = (type: EventType, callId?: string) =>
    events.find((e) => e.type === type && (callId === undefined || (JSON.parse(e.json) as { call?: { id?: string } }).call?.id === callId));
  return {
    events,
    stop,
    async next(type, callId) {
      assert.ok(await waitFor(() => match(type, callId) !== undefined, 3000), `no ${type} event${callId ? ` for ${callId}` : ''} within 3 s`);
      const ev = match(type, callId)!;
      return { ev, body: JSON.parse(ev.json) };
    },
  };
}
