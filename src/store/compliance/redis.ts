// Compliance on Redis: the org's `dnc` set and `cid` hash (src/store/keys.ts). Bulk changes go
// in chunks of DNC_CHUNK numbers per command, pipelined: one request of 100,000 numbers is ten
// commands in one round trip, and no single command holds Redis for long. Expired sticky caller
// ids are swept by the housekeeper, an HSCAN page per script (sweep_caller_ids.lua).

import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { CID_SWEEP_PAGE, DNC_CHUNK, stickyField, unexpiredSticky, type ComplianceStore } from './port.js';

export class RedisCompliance implements ComplianceStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  private async chunked(cmd: 'sadd' | 'srem', orgId: string, numbers: string[]): Promise<number> {
    if (numbers.length === 0) return 0;
    const key = this.keys.org(orgId).dnc;
    const pipe = this.conn.client.pipeline();
    for (let i = 0; i < numbers.length; i += DNC_CHUNK) pipe[cmd](key, ...numbers.slice(i, i + DNC_CHUNK));
    let n = 0;
    for (const [err, r] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      n += Number(r);
    }
    return n;
  }

  dncAdd(orgId: string, numbers: string[]): Promise<number> {
    return this.chunked('sadd', orgId, numbers);
  }

  dncRemove(orgId: string, numbers: string[]): Promise<number> {
    return this.chunked('srem', orgId, numbers);
  }

  async dncHas(orgId: string, number: string): Promise<boolean> {
    return (await this.conn.client.sismember(this.keys.org(orgId).dnc, number)) === 1;
  }

  dncCount(orgId: string): Promise<number> {
    return this.conn.client.scard(this.keys.org(orgId).dnc);
  }

  async stickyCallerId(orgId: string, providerId: string, to: string, now: number): Promise<string | null> {
    return unexpiredSticky(await this.conn.client.hget(this.keys.org(orgId).cid, stickyField(providerId, to)), now);
  }

  async sweepCallerIds(orgId: string, now: number): Promise<number> {
    const cid = this.keys.org(orgId).cid;
    let cursor = '0';
    let n = 0;
    do {
      const [next, dropped] = (await this.conn.run('sweep_caller_ids', [cid], [now, cursor, CID_SWEEP_PAGE])) as [string, number];
      n += Number(dropped);
      cursor = String(next);
    } while (cursor !== '0');
    return n;
  }
}
