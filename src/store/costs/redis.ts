// Costs on Redis: rate tables in the org's `rates` hash; the ledger in `costs` (call id → entry
// JSON) indexed by end time in `costIdx`. A record is one script (cost_record.lua) that also sets
// the call's `cost_j` field, so the call and the ledger never disagree.

import type { RateTable } from '../../costs/rates.js';
import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import type { CostEntry, CostStore } from './port.js';

/** entries read per HMGET while a window is collected */
const CHUNK = 1000;

export class RedisCosts implements CostStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  async putRates(orgId: string, providerId: string, table: RateTable): Promise<void> {
    await this.conn.client.hset(this.keys.org(orgId).rates, providerId, JSON.stringify(table));
  }

  async getRates(orgId: string, providerId: string): Promise<RateTable | null> {
    const v = await this.conn.client.hget(this.keys.org(orgId).rates, providerId);
    return v === null ? null : (JSON.parse(v) as RateTable);
  }

  async allRates(orgId: string): Promise<Record<string, RateTable>> {
    const h = await this.conn.client.hgetall(this.keys.org(orgId).rates);
    return Object.fromEntries(Object.entries(h).map(([id, v]) => [id, JSON.parse(v) as RateTable]));
  }

  async delRates(orgId: string, providerId: string): Promise<void> {
    await this.conn.client.hdel(this.keys.org(orgId).rates, providerId);
  }

  async record(orgId: string, entry: CostEntry, dropBeforeMs: number): Promise<void> {
    const k = this.keys.org(orgId);
    await this.conn.run(
      'cost_record',
      [k.call(entry.callId), k.costs, k.costIdx],
      [entry.callId, JSON.stringify(entry), entry.cost ? JSON.stringify(entry.cost) : '', entry.endedAtMs, dropBeforeMs],
    );
  }

  async ledger(orgId: string, fromMs: number, toMs: number, limit: number): Promise<CostEntry[]> {
    const k = this.keys.org(orgId);
    const ids = await this.conn.client.zrangebyscore(k.costIdx, fromMs, toMs, 'LIMIT', 0, limit);
    const out: CostEntry[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const vals = await this.conn.client.hmget(k.costs, ...ids.slice(i, i + CHUNK));
      for (const v of vals) if (v !== null) out.push(JSON.parse(v) as CostEntry);
    }
    return out;
  }
}
