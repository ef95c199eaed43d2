// Authenticated requests to the Zoho API domain the token came with. A 401 INVALID_TOKEN
// (revoked or expired early) triggers exactly one refresh and one retry.

import { CrmError } from '../../../src/crm/adapter.js';
import { send, type HttpResponse } from '../shared/http.js';
import { isInvalidToken, responseError } from './errors.js';
import type { ZohoTokenSource } from './oauth.js';

export interface ZohoRequest {
  method: 'GET' | 'POST' | 'PUT';
  /** path on the API domain, e.g. /crm/v8/Calls */
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
}

export class ZohoClient {
  constructor(
    private readonly tokens: ZohoTokenSource,
    private readonly timeoutMs?: number,
  ) {}

  /** Sends the request; answers every status except INVALID_TOKEN to the caller. */
  async call(req: ZohoRequest, label: string): Promise<HttpResponse> {
    let token = await this.tokens.get();
    let res = await this.once(req, token.apiDomain, token.accessToken, label);
    if (isInvalidToken(res)) {
      token = await this.tokens.invalidate(token);
      res = await this.once(req, token.apiDomain, token.accessToken, label);
      if (isInvalidToken(res)) throw new CrmError(`${label}: INVALID_TOKEN after a refresh`, false, undefined, 'INVALID_TOKEN');
    }
    return res;
  }

  /** Like call(), but any non-2xx becomes a CrmError. */
  async ok(req: ZohoRequest, label: string): Promise<HttpResponse> {
    const res = await this.call(req, label);
    if (res.status < 200 || res.status >= 300) throw responseError(res, label);
    return res;
  }

  private once(req: ZohoRequest, apiDomain: string, accessToken: string, label: string): Promise<HttpResponse> {
    const qs = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
    const headers: Record<string, string> = { authorization: `Zoho-oauthtoken ${accessToken}` };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }
    return send({ method: req.method, url: `${apiDomain}${req.path}${qs}`, headers, body, timeoutMs: this.timeoutMs }, label);
  }
}
