// Costs: each provider's rate table, and the ledger of ended outbound calls with their cost (what
// GET /v1/providers/costs sums and re-prices over a window). Recording a call's cost also puts
// it on the call (`cost`), in the same atomic step, so the call log reads it with the call.

import type { Cost, RateTable } from '../../costs/rates.js';

export interface CostEntry {
  callId: string;
  providerId: string;
  /** the destination, E.164 */
  to: string;
  /** ISO 3166 region of the destination, when known */
  country?: string;
  endedAtMs: number;
  talkSec: number;
  billedSec: number;
  /** null: no rate matched and the provider reported no price */
  cost: Cost | null;
}

export interface CostStore {
  putRates(orgId: string, providerId: string, table: RateTable): Promise<void>;
  getRates(orgId: string, providerId: string): Promise<RateTable | null>;
  /** every provider's table, by provider id */
  allRates(orgId: string): Promise<Record<string, RateTable>>;
  delRates(orgId: string, providerId: string): Promise<void>;
  /**
   * Records an ended call: its cost on the call (when the call still exists) and the entry in
   * the ledger, replacing an earlier entry for the same call; entries that ended before
   * `dropBeforeMs` leave the ledger (a bounded number per write).
   */
  record(orgId: string, entry: CostEntry, dropBeforeMs: number): Promise<void>;
  /** Ledger entries that ended in [fromMs, toMs], oldest first, at most `limit`. */
  ledger(orgId: string, fromMs: number, toMs: number, limit: number): Promise<CostEntry[]>;
}
