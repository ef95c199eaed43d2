// Compliance: the org's do-not-call list (the click script refuses its numbers in the same
// atomic step that creates the call: src/store/calls) and the sticky local-presence caller ids
// (also chosen by the click script; read here for explain).

export interface ComplianceStore {
  /** Adds E.164 numbers; the count newly added. */
  dncAdd(orgId: string, numbers: string[]): Promise<number>;
  /** Removes numbers; the count that were listed. */
  dncRemove(orgId: string, numbers: string[]): Promise<number>;
  dncHas(orgId: string, number: string): Promise<boolean>;
  dncCount(orgId: string): Promise<number>;
  /** The caller id a destination sticks to on a provider, while its stickiness lasts (null: none). */
  stickyCallerId(orgId: string, providerId: string, to: string, now: number): Promise<string | null>;
  /**
   * Removes the sticky caller ids that expired by `now` (the click only overwrites its own
   * destination's, so a destination never called again would stay for ever); a page at a time,
   * so no step holds the backend for long. Returns how many went.
   */
  sweepCallerIds(orgId: string, now: number): Promise<number>;
}

/** fields a sweep step looks at (one HSCAN page) */
export const CID_SWEEP_PAGE = 500;

/** numbers per SADD/SREM command: large uploads go in pipelined chunks, never one huge command */
export const DNC_CHUNK = 10_000;

/** The field of the sticky caller id of a destination on a provider (Redis `cid`, memory map). */
export const stickyField = (providerId: string, to: string): string => `${providerId}|${to}`;

/** "<number>|<expiry ms>" → the number while it has not expired. */
export function unexpiredSticky(v: string | null | undefined, now: number): string | null {
  if (!v) return null;
  const bar = v.lastIndexOf('|');
  return Number(v.slice(bar + 1)) > now ? v.slice(0, bar) : null;
}
