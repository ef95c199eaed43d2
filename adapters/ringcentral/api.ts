// Authenticated RingCentral API calls: bearer token from the shared TokenManager, one retry with a
// fresh token after a 401 (never more: a second 401 is an auth failure), errors mapped by errorCode.

import type { RcTransport, HttpMethod, RcResponse } from './http.js';
import type { TokenManager } from './token.js';
import { mapRcError } from './errors.js';
import type { MediaStream } from '../../src/providers/adapter.js';

export interface ApiCall {
  operation: string;
  method: HttpMethod;
  path: string;
  json?: unknown;
  /** statuses the caller handles itself (e.g. 404 on a delete) */
  accept?: number[];
}

export class RcApi {
  constructor(
    readonly transport: RcTransport,
    readonly tokens: TokenManager,
  ) {}

  async call(c: ApiCall): Promise<RcResponse> {
    let token = await this.tokens.accessToken();
    let res = await this.transport.send({ ...c, authorization: `Bearer ${token}` });
    if (res.status === 401) {
      await this.tokens.invalidate(token);
      token = await this.tokens.accessToken();
      res = await this.transport.send({ ...c, authorization: `Bearer ${token}` });
    }
    if (res.status >= 400 && !(c.accept ?? []).includes(res.status)) throw mapRcError(c.operation, res.status, res.body);
    return res;
  }

  /** A binary GET streamed back (recording content), with the same one-retry-after-401 rule. */
  async stream(operation: string, path: string, range?: string): Promise<MediaStream> {
    let token = await this.tokens.accessToken();
    let res = await this.transport.stream({ operation, path, range, authorization: `Bearer ${token}` });
    if (res.status === 401) {
      await this.tokens.invalidate(token);
      token = await this.tokens.accessToken();
      res = await this.transport.stream({ operation, path, range, authorization: `Bearer ${token}` });
    }
    if (res.status === 401) throw mapRcError(operation, 401, undefined);
    return res;
  }
}
