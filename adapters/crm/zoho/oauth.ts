// Zoho OAuth: access tokens from the refresh-token grant at the data centre's accounts server.
// The token is shared by every gateway and worker instance through SharedState, and only one
// instance refreshes at a time (a lock), because Zoho allows only 10 access tokens per refresh
// token per 10 minutes: a fleet refreshing on its own would lock itself out.

import { createHash } from 'node:crypto';
import { CrmError } from '../../../src/crm/adapter.js';
import type { SharedState } from '../../../src/store/state/port.js';
import { isRetryableStatus, parseJson, retryAfterMs, send } from '../shared/http.js';

export const ACCOUNTS_BY_DC: Record<string, string> = {
  com: 'https://accounts.zoho.com',
  eu: 'https://accounts.zoho.eu',
  in: 'https://accounts.zoho.in',
  'com.au': 'https://accounts.zoho.com.au',
  'com.cn': 'https://accounts.zoho.com.cn',
  jp: 'https://accounts.zoho.jp',
  ca: 'https://accounts.zohocloud.ca',
};

export interface OAuthConfig {
  dataCenter: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  accountsUrl?: string;
}

export interface AccessToken {
  accessToken: string;
  apiDomain: string;
  /** epoch ms */
  expiresAt: number;
}

/** Renew this long before Zoho's expiry, so a request never leaves with a token about to lapse. */
const EARLY_RENEW_MS = 120_000;
const LOCK_TTL_MS = 15_000;
const WAIT_FOR_PEER_MS = 15_000;

export function accountsServer(cfg: OAuthConfig): string {
  if (cfg.accountsUrl) return cfg.accountsUrl.replace(/\/+$/, '');
  const url = ACCOUNTS_BY_DC[cfg.dataCenter];
  if (!url) throw new CrmError(`zoho: unknown dataCenter "${cfg.dataCenter}"`, false, undefined, 'invalid_config');
  return url;
}

export class ZohoTokenSource {
  private readonly key: string;
  private readonly lockKey: string;
  private local: AccessToken | null = null;

  constructor(
    private readonly cfg: OAuthConfig,
    private readonly shared: SharedState,
    orgId: string,
  ) {
    // one token per (org, client, refresh token): a changed connection never reuses the old token
    const id = createHash('sha256').update(`${cfg.clientId}\n${cfg.refreshToken}\n${accountsServer(cfg)}`).digest('hex').slice(0, 16);
    this.key = `crm:zoho:${orgId}:token:${id}`;
    this.lockKey = `${this.key}:refresh`;
  }

  /** A valid token, refreshing (once across instances) when none is shared. */
  async get(): Promise<AccessToken> {
    if (this.local && this.fresh(this.local)) return this.local;
    const shared = await this.readShared();
    if (shared && this.fresh(shared)) return (this.local = shared);
    return this.refresh(null);
  }

  /**
   * Zoho refused `rejected`: refresh unless another instance already replaced it, in which case
   * the replacement is used (so N workers hitting INVALID_TOKEN together cause one refresh).
   */
  async invalidate(rejected: AccessToken): Promise<AccessToken> {
    this.local = null;
    return this.refresh(rejected.accessToken);
  }

  private fresh(t: AccessToken): boolean {
    return t.expiresAt - EARLY_RENEW_MS > Date.now();
  }

  private async readShared(): Promise<AccessToken | null> {
    const raw = await this.shared.get(this.key);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as AccessToken;
    } catch {
      return null;
    }
  }

  private usable(t: AccessToken | null, rejected: string | null): t is AccessToken {
    return t !== null && this.fresh(t) && t.accessToken !== rejected;
  }

  private async refresh(rejected: string | null): Promise<AccessToken> {
    const deadline = Date.now() + WAIT_FOR_PEER_MS;
    for (;;) {
      const lock = await this.shared.acquireLock(this.lockKey, LOCK_TTL_MS);
      if (lock) {
        try {
          // another instance may have refreshed between our read and the lock
          const current = await this.readShared();
          if (this.usable(current, rejected)) return (this.local = current);
          const token = await this.grant();
          await this.shared.set(this.key, JSON.stringify(token), Math.max(1000, token.expiresAt - Date.now()));
          return (this.local = token);
        } finally {
          await this.shared.releaseLock(this.lockKey, lock);
        }
      }
      // someone else is refreshing: wait for their token rather than asking Zoho for another
      await new Promise((r) => setTimeout(r, 100));
      const current = await this.readShared();
      if (this.usable(current, rejected)) return (this.local = current);
      if (Date.now() > deadline) throw new CrmError('zoho: timed out waiting for a token refresh by another instance', true, 1000, 'token_wait');
    }
  }

  private async grant(): Promise<AccessToken> {
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: this.cfg.clientId,
      client_secret: this.cfg.clientSecret,
      refresh_token: this.cfg.refreshToken,
    }).toString();
    const res = await send(
      {
        method: 'POST',
        url: `${accountsServer(this.cfg)}/oauth/v2/token`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      },
      'zoho token refresh',
    );
    const json = parseJson(res.text) as Record<string, unknown> | undefined;
    if (res.status === 200 && json && typeof json.access_token === 'string') {
      const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 3600;
      const apiDomain = typeof json.api_domain === 'string' ? json.api_domain.replace(/\/+$/, '') : '';
      if (!apiDomain) throw new CrmError('zoho token refresh: no api_domain in the answer', false, undefined, 'no_api_domain');
      return { accessToken: json.access_token, apiDomain, expiresAt: Date.now() + expiresIn * 1000 };
    }
    // Zoho answers bad credentials with 200 {error: "invalid_client" | "invalid_code"}
    const err = json && typeof json.error === 'string' ? json.error : `HTTP ${res.status}`;
    const desc = json && typeof json.error_description === 'string' ? json.error_description : '';
    if (isRetryableStatus(res.status) || /too many requests/i.test(desc)) {
      throw new CrmError(`zoho token refresh: ${err}`, true, retryAfterMs(res.headers) ?? 60_000, 'token_rate_limited');
    }
    throw new CrmError(`zoho token refresh refused: ${err}`, false, undefined, 'zoho_auth_failed');
  }
}
