// The OAuth token shared by every gateway instance. RingCentral allows 5 auth requests a minute
// and asks apps to authenticate on a single thread, share the tokens and refresh them before they
// expire (not on 401). So: the token lives in SharedState; whoever finds it missing or close to
// expiry takes a lock and fetches (refresh_token grant while the refresh token is valid, else the
// JWT grant); the others keep using the still-valid token or poll the shared key until the new
// one appears. Within one instance concurrent callers share a single in-flight fetch.
// Tokens, the JWT and the client secret never reach a log line or an error message.

import type { Logger } from 'pino';
import { ProviderError } from '../../src/providers/adapter.js';
import type { SharedState } from '../../src/store/state/port.js';
import type { RcConfig } from './config.js';
import { mapRcError } from './errors.js';
import type { RcTransport } from './http.js';

export const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

interface StoredToken {
  accessToken: string;
  /** epoch ms */
  expiresAt: number;
  lifetimeMs: number;
  refreshToken?: string;
  refreshExpiresAt?: number;
}

export interface TokenOptions {
  /** how long a caller waits for another instance's fetch before giving up */
  lockWaitMs: number;
  /** how often a waiting caller looks at the shared key */
  pollMs: number;
  /** after a credentials failure, no instance asks again for this long (protects the 5/min quota) */
  authFailureHoldMs: number;
}

export const DEFAULT_TOKEN_OPTIONS: TokenOptions = { lockWaitMs: 20_000, pollMs: 100, authFailureHoldMs: 30_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Refresh when less than a fifth of the lifetime (at most 5 minutes) is left. */
export function refreshMarginMs(lifetimeMs: number): number {
  return Math.min(300_000, Math.floor(lifetimeMs * 0.2));
}

export class TokenManager {
  private inflight: Promise<StoredToken> | null = null;
  private readonly key: string;
  private readonly lockKey: string;
  private readonly failKey: string;

  constructor(
    private readonly cfg: RcConfig,
    private readonly shared: SharedState,
    prefix: string,
    private readonly transport: RcTransport,
    private readonly logger: Logger,
    private readonly opts: TokenOptions = DEFAULT_TOKEN_OPTIONS,
  ) {
    this.key = `${prefix}:token`;
    this.lockKey = `${prefix}:token-lock`;
    this.failKey = `${prefix}:auth-failed`;
  }

  private async read(): Promise<StoredToken | null> {
    const raw = await this.shared.get(this.key);
    if (!raw) return null;
    try {
      const t = JSON.parse(raw) as StoredToken;
      return typeof t.accessToken === 'string' && typeof t.expiresAt === 'number' ? t : null;
    } catch {
      return null;
    }
  }

  private static fresh(t: StoredToken | null, now = Date.now()): t is StoredToken {
    return !!t && now < t.expiresAt - refreshMarginMs(t.lifetimeMs);
  }

  private static usable(t: StoredToken | null, now = Date.now()): t is StoredToken {
    return !!t && now < t.expiresAt - 2_000;
  }

  /** A valid access token, fetching or refreshing it when needed. */
  async accessToken(): Promise<string> {
    const t = await this.read();
    if (TokenManager.fresh(t)) return t.accessToken;
    if (!this.inflight) {
      this.inflight = this.obtain(t).finally(() => {
        this.inflight = null;
      });
    }
    return (await this.inflight).accessToken;
  }

  /** Drops the shared token after a 401, unless another caller already replaced it. */
  async invalidate(accessToken: string): Promise<void> {
    const t = await this.read();
    if (t && t.accessToken === accessToken) await this.shared.del(this.key);
  }

  private async obtain(seen: StoredToken | null): Promise<StoredToken> {
    const held = await this.shared.get(this.failKey);
    if (held) throw new ProviderError('provider_auth_failed', held, undefined, true);
    const deadline = Date.now() + this.opts.lockWaitMs;
    let current = seen;
    for (;;) {
      const lock = await this.shared.acquireLock(this.lockKey, this.cfg.timeoutMs * 2 + 5_000);
      if (lock) {
        try {
          const again = await this.read();
          if (TokenManager.fresh(again)) return again;
          const next = await this.fetch(again);
          return next;
        } finally {
          await this.shared.releaseLock(this.lockKey, lock);
        }
      }
      // another instance is fetching: a token that still works is good enough meanwhile
      if (TokenManager.usable(current)) return current;
      await sleep(this.opts.pollMs);
      current = await this.read();
      if (TokenManager.fresh(current)) return current;
      const failed = await this.shared.get(this.failKey);
      if (failed) throw new ProviderError('provider_auth_failed', failed, undefined, true);
      if (Date.now() > deadline) {
        throw new ProviderError('provider_unavailable', 'timed out waiting for the shared RingCentral access token', undefined, true);
      }
    }
  }

  private async fetch(previous: StoredToken | null): Promise<StoredToken> {
    const now = Date.now();
    if (previous?.refreshToken && (previous.refreshExpiresAt ?? 0) > now + 60_000) {
      try {
        return await this.grant({ grant_type: 'refresh_token', refresh_token: previous.refreshToken }, 'refresh_token');
      } catch (err) {
        // an expired or revoked refresh token is replaced by a new JWT login; throttling is not
        if (!(err instanceof ProviderError) || err.code !== 'provider_auth_failed') throw err;
        this.logger.info('ringcentral refresh token refused; signing in again with the JWT');
      }
    }
    return this.grant({ grant_type: JWT_GRANT, assertion: this.cfg.jwt }, 'jwt');
  }

  private async grant(form: Record<string, string>, kind: 'jwt' | 'refresh_token'): Promise<StoredToken> {
    const basic = Buffer.from(`${this.cfg.clientId}:${this.cfg.clientSecret}`).toString('base64');
    const res = await this.transport.send({
      operation: 'token',
      method: 'POST',
      path: '/restapi/oauth/token',
      form,
      authorization: `Basic ${basic}`,
    });
    if (res.status !== 200) {
      const err = mapRcError('token', res.status, res.body);
      if (err.code === 'provider_auth_failed' && kind === 'jwt') {
        await this.shared.set(this.failKey, err.message, this.opts.authFailureHoldMs);
      }
      throw err;
    }
    const b = (res.body ?? {}) as Record<string, unknown>;
    const expiresIn = Number(b.expires_in);
    if (typeof b.access_token !== 'string' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new ProviderError('provider_error', 'RingCentral token response lacks access_token or expires_in', undefined, true);
    }
    const now = Date.now();
    const refreshIn = Number(b.refresh_token_expires_in);
    const t: StoredToken = {
      accessToken: b.access_token,
      expiresAt: now + expiresIn * 1000,
      lifetimeMs: expiresIn * 1000,
      refreshToken: typeof b.refresh_token === 'string' ? b.refresh_token : undefined,
      refreshExpiresAt: typeof b.refresh_token === 'string' && Number.isFinite(refreshIn) ? now + refreshIn * 1000 : undefined,
    };
    const keepMs = Math.max(t.expiresAt, t.refreshExpiresAt ?? 0) - now;
    await this.shared.set(this.key, JSON.stringify(t), keepMs);
    this.logger.info({ grant: kind, expiresInSec: expiresIn }, 'ringcentral access token obtained');
    return t;
  }
}
