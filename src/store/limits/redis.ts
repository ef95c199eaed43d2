// Token buckets outside the click on Redis: one script over the org's rl hash (lib.lua: take_limits).

import { ADMITTED, admissionArgs, refusedBy, type Bucket, type LimitResult } from '../../domain/limits.js';
import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import type { LimitStore } from './port.js';

export class RedisLimits implements LimitStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  async take(orgId: string, buckets: Bucket[]): Promise<LimitResult> {
    const k = this.keys.org(orgId);
    const admission = { buckets };
    const r = (await this.conn.run('take_limits', [k.rl, k.live], [Date.now(), ...admissionArgs(admission)])) as number[] | null;
    return r ? refusedBy(admission, r[0], r[1]) : ADMITTED;
  }

  async sweep(orgId: string): Promise<number> {
    const k = this.keys.org(orgId);
    let cursor = '0';
    let n = 0;
    do {
      const [next, dropped] = (await this.conn.run('sweep_buckets', [k.rl], [Date.now(), cursor])) as [string, number];
      n += Number(dropped);
      cursor = String(next);
    } while (cursor !== '0');
    return n;
  }
}
