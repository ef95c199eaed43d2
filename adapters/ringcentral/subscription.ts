// The webhook subscription for telephony session events. install() creates it (RingCentral then
// performs the Validation-Token handshake against our /events URL before answering the create),
// and a maintenance check, run by one instance per interval, renews it before it expires and
// recreates it when RingCentral reports it Blacklisted / Suspended or no longer knows it (404).
// The subscription id lives in SharedState, so any instance can maintain or delete it.

import type { Logger } from 'pino';
import { ProviderError } from '../../src/providers/adapter.js';
import type { SharedState } from '../../src/store/state/port.js';
import type { RcApi } from './api.js';
import { SESSIONS_EVENT_FILTER, SUBSCRIPTION_PATH, subscriptionPath } from './paths.js';
import type { Timers } from './timers.js';
import { createHash } from 'node:crypto';

export interface SubscriptionOptions {
  /** requested lifetime (RingCentral allows up to 20 years for webhooks; a week proves liveness often enough) */
  ttlSec: number;
  /** how often one instance checks the subscription's status */
  checkMs: number;
}

export const DEFAULT_SUBSCRIPTION_OPTIONS: SubscriptionOptions = { ttlSec: 7 * 24 * 3600, checkMs: 10 * 60_000 };

interface SubRecord {
  id: string;
  address: string;
  /** hash of the verification token the subscription was created with */
  tokenTag: string;
  /** epoch ms */
  expiresAt: number;
  ttlSec: number;
}

interface SubResponse {
  id?: string;
  status?: string;
  expirationTime?: string;
  expiresIn?: number;
  disabledFilters?: { filter?: string; reason?: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Renew when less than a quarter of the lifetime (at most a day) is left. */
export function renewMarginMs(ttlSec: number): number {
  return Math.min(24 * 3600_000, ttlSec * 250);
}

export class SubscriptionManager {
  private readonly recordKey: string;
  private readonly tokenTag: string;

  constructor(
    private readonly api: RcApi,
    private readonly shared: SharedState,
    /** rc:<providerId> */
    private readonly prefix: string,
    private readonly address: string,
    private readonly verificationToken: string,
    private readonly logger: Logger,
    private readonly timers: Timers,
    private readonly opts: SubscriptionOptions,
  ) {
    this.recordKey = `${prefix}:subscription`;
    this.tokenTag = createHash('sha256').update(verificationToken).digest('hex').slice(0, 16);
  }

  async record(): Promise<SubRecord | null> {
    const raw = await this.shared.get(this.recordKey);
    return raw ? (JSON.parse(raw) as SubRecord) : null;
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const key = `${this.prefix}:subscription-lock`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const token = await this.shared.acquireLock(key, 60_000);
      if (token) {
        try {
          return await fn();
        } finally {
          await this.shared.releaseLock(key, token);
        }
      }
      if (Date.now() > deadline) throw new ProviderError('provider_unavailable', 'another instance is still setting up the RingCentral subscription', 5, true);
      await sleep(200);
    }
  }

  /** install(): makes sure one Active subscription delivers to our address with our token. */
  async ensure(): Promise<string> {
    return this.withLock(async () => {
      const rec = await this.record();
      if (rec && rec.address === this.address && rec.tokenTag === this.tokenTag) {
        const res = await this.api.call({ operation: 'readSubscription', method: 'GET', path: subscriptionPath(rec.id), accept: [404] });
        const sub = res.body as SubResponse | undefined;
        if (res.status === 200 && sub?.status === 'Active') {
          if (rec.expiresAt - Date.now() < renewMarginMs(rec.ttlSec)) await this.renew(rec);
          return rec.id;
        }
      }
      if (rec) await this.deleteQuietly(rec.id);
      return (await this.create()).id;
    });
  }

  /** Periodic check (one instance per interval): renew, or recreate when unusable. */
  async check(): Promise<void> {
    const turn = await this.shared.acquireLock(`${this.prefix}:subscription-check`, Math.max(1, Math.floor(this.opts.checkMs * 0.8)));
    if (!turn) return;
    await this.withLock(async () => {
      const rec = await this.record();
      if (!rec) return;
      const res = await this.api.call({ operation: 'readSubscription', method: 'GET', path: subscriptionPath(rec.id), accept: [404] });
      const sub = res.body as SubResponse | undefined;
      if (res.status === 404) {
        this.logger.warn({ subscriptionId: rec.id }, 'ringcentral subscription is gone; recreating it');
        await this.create();
        return;
      }
      if (sub?.status !== 'Active') {
        this.logger.warn({ subscriptionId: rec.id, status: sub?.status }, 'ringcentral subscription is not active; recreating it');
        await this.deleteQuietly(rec.id);
        await this.create();
        return;
      }
      if (rec.expiresAt - Date.now() < renewMarginMs(rec.ttlSec)) await this.renew(rec);
    });
  }

  startMaintenance(): void {
    const loop = async () => {
      try {
        await this.check();
      } catch (err) {
        this.logger.warn({ code: (err as ProviderError).code }, 'ringcentral subscription check failed');
      }
      this.timers.after(this.opts.checkMs, loop);
    };
    // a little jitter so instances started together do not all ask at once
    this.timers.after(Math.floor(this.opts.checkMs * (0.5 + Math.random() * 0.5)), loop);
  }

  async remove(): Promise<void> {
    await this.withLock(async () => {
      const rec = await this.record();
      if (rec) await this.deleteQuietly(rec.id);
      await this.shared.del(this.recordKey);
    });
  }

  private async create(): Promise<SubRecord> {
    const res = await this.api.call({
      operation: 'createSubscription',
      method: 'POST',
      path: SUBSCRIPTION_PATH,
      json: {
        eventFilters: [SESSIONS_EVENT_FILTER],
        deliveryMode: { transportType: 'WebHook', address: this.address, verificationToken: this.verificationToken },
        expiresIn: this.opts.ttlSec,
      },
    }).catch((err: unknown) => {
      if (err instanceof ProviderError && /SUB-525/.test(err.message)) {
        throw new ProviderError(
          'provider_error',
          `RingCentral could not validate the webhook address ${this.address} (SUB-525): it must be reachable over HTTPS from RingCentral; check PUBLIC_URL`,
          undefined,
          true,
        );
      }
      throw err;
    });
    const sub = res.body as SubResponse;
    if (!sub?.id) throw new ProviderError('provider_error', 'RingCentral subscription response has no id', undefined, false);
    if (sub.disabledFilters?.length) {
      // without the CallControl permission the filter is disabled: calls still work through polling
      this.logger.warn({ disabled: sub.disabledFilters.map((f) => `${f.filter}: ${f.reason}`) }, 'ringcentral disabled some event filters');
    }
    const rec = this.toRecord(sub.id, sub);
    await this.shared.set(this.recordKey, JSON.stringify(rec));
    this.logger.info({ subscriptionId: sub.id }, 'ringcentral webhook subscription created');
    return rec;
  }

  private async renew(rec: SubRecord): Promise<void> {
    const res = await this.api.call({ operation: 'renewSubscription', method: 'POST', path: `${subscriptionPath(rec.id)}/renew`, accept: [404] });
    if (res.status === 404) {
      await this.create();
      return;
    }
    const sub = res.body as SubResponse;
    await this.shared.set(this.recordKey, JSON.stringify(this.toRecord(rec.id, sub, rec.ttlSec)));
    this.logger.info({ subscriptionId: rec.id }, 'ringcentral webhook subscription renewed');
  }

  private toRecord(id: string, sub: SubResponse, ttlSec = this.opts.ttlSec): SubRecord {
    const exp = sub.expirationTime ? Date.parse(sub.expirationTime) : NaN;
    const expiresAt = Number.isFinite(exp) ? exp : Date.now() + (sub.expiresIn ?? ttlSec) * 1000;
    return { id, address: this.address, tokenTag: this.tokenTag, expiresAt, ttlSec };
  }

  private async deleteQuietly(id: string): Promise<void> {
    try {
      await this.api.call({ operation: 'deleteSubscription', method: 'DELETE', path: subscriptionPath(id), accept: [404] });
    } catch (err) {
      this.logger.warn({ subscriptionId: id, code: (err as ProviderError).code }, 'could not delete the old ringcentral subscription');
    }
  }
}
