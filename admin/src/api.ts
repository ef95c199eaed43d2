// The gateway's JSON API as the console uses it: the org key as a bearer token, the API's one
// error shape turned into ApiError, and the types of the shapes the pages read.

import { getKey } from './session.js';

export interface Regions {
  allow?: string[];
  deny?: string[];
}

export interface Provider {
  id: string;
  kind: string;
  name: string;
  regions: Regions;
  priority: number;
  scope: 'all' | 'specific';
  futureUsers: boolean;
  userCount: number;
  config: Record<string, unknown>;
  details?: Record<string, unknown>;
  health?: { state?: string; [k: string]: unknown };
  createdAt?: string;
  updatedAt?: string;
}

export interface User {
  id: string;
  region: string;
  name?: string;
  email?: string;
  phone?: string;
  numbers?: string[];
  providerId: string | null;
}

export interface Conflict {
  userId: string;
  providerId?: string;
  reason: 'assigned_elsewhere' | 'region_unavailable' | 'unknown_user';
}

export interface AssignResult {
  assigned: string[];
  conflicts: Conflict[];
}

export interface Call {
  id: string;
  userId: string;
  providerId: string;
  providerKind?: string;
  direction: 'outbound' | 'inbound';
  from?: string;
  to: string;
  status: string;
  createdAt: string;
  updatedAt?: string;
  answeredAt?: string;
  endedAt?: string;
  durationSec?: number;
  trial?: boolean;
  failedOverFrom?: string;
  /** an inbound call nobody answered within the user's ring timeout */
  missed?: boolean;
  recording?: Media;
  voicemail?: Media;
  /** the agent's wrap-up (PATCH /v1/calls/{id}) */
  disposition?: string;
  subject?: string;
  notes?: string;
}

/** A recording or voicemail; `url` is the gateway's own signed, expiring link. */
export interface Media {
  status: 'pending' | 'available' | 'absent' | 'failed';
  durationSec?: number;
  url?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface Money {
  amount: number;
  currency: string;
}

/** a sum over calls that may span currencies: the largest, the others listed */
export type Total = (Money & { others?: Money[] }) | null;

/** GET /v1/providers/costs */
export interface CostReport {
  window: { from: string; to: string };
  providers: Record<string, { calls: number; billedMinutes: number; cost: Total; unpriced: number }>;
  whatIf: Record<string, Money & { unpriced: number }>;
  byCountry: Record<string, { calls: number; whatIf: Record<string, Money> }>;
  truncated: boolean;
}

export interface Figures {
  providerId: string;
  name?: string;
  /** trial reports: calls placed / finished so far, and why a provider could not be tried */
  placed?: number;
  finished?: number;
  error?: string;
  /** trial reports: the ended calls priced on the provider's rate table */
  cost?: { calls: number; billedMinutes: number; total: Total; perCall: Total; unpriced: number };
  attempts: number;
  answered: number;
  answerRatio: number | null;
  setupToRinging?: Percentiles;
  setupToAnswer?: Percentiles;
  apiLatency?: Percentiles;
  failures?: Record<string, number>;
  [k: string]: unknown;
}

export interface Trial {
  id?: string;
  status: 'running' | 'completed' | string;
  progress?: { placed: number; finished: number; total: number };
  report: Figures[];
  [k: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let onUnauthorized: (() => void) | null = null;
/** Called when the gateway refuses the key (401): the shell signs out. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: { key?: string; headers?: Record<string, string> } = {}): Promise<T> {
  const key = opts.key ?? getKey();
  const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'The gateway could not be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = json?.error;
    const { code, message, ...details } = err ?? {};
    if (res.status === 401 && !opts.key) onUnauthorized?.();
    throw new ApiError(res.status, typeof code === 'string' ? code : `http_${res.status}`, typeof message === 'string' ? message : `The gateway answered ${res.status}.`, details);
  }
  return json as T;
}

/** Every page of a paged list, up to max items. */
export async function all<T>(path: string, max = 10_000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  const sepr = path.includes('?') ? '&' : '?';
  do {
    const page: Page<T> = await api<Page<T>>('GET', `${path}${sepr}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && out.length < max);
  return out;
}

export const enc = encodeURIComponent;
