// The CRM adapters' HTTP layer: warm keep-alive connections shared across requests, bounded
// waits for a CRM that never answers, and failures classified as retryable network errors.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { send } from '../../adapters/crm/shared/http.js';
import { CrmError } from '../../src/crm/adapter.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; connections: () => number }> {
  let connections = 0;
  const server = createServer(handler);
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

describe('CRM HTTP', () => {
  const servers: Server[] = [];
  after(async () => {
    for (const s of servers) await close(s);
  });

  test('requests to one CRM reuse a kept-alive connection; status, headers and body come back', async () => {
    const srv = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'x-seen': req.url ?? '' });
        res.end(JSON.stringify({ echo: body, method: req.method, ct: req.headers['content-type'] }));
      });
    });
    servers.push(srv.server);
    for (let i = 0; i < 20; i++) {
      const r = await send({ method: 'POST', url: `${srv.url}/log?n=${i}`, headers: { 'content-type': 'application/json' }, body: `{"i":${i}}` }, 'test CRM');
      assert.equal(r.status, 201);
      assert.equal(r.headers['x-seen'], `/log?n=${i}`);
      assert.deepEqual(JSON.parse(r.text), { echo: `{"i":${i}}`, method: 'POST', ct: 'application/json' });
    }
    // the pool may open a second socket while the first is being handed back; never one per request
    assert.ok(srv.connections() <= 2, `${srv.connections()} connections for 20 sequential requests`);
  });

  test('a CRM that accepts but never answers fails retryably within the timeout', async () => {
    const srv = await serve(() => {}); // never answers
    servers.push(srv.server);
    const t0 = Date.now();
    await assert.rejects(
      send({ method: 'POST', url: `${srv.url}/hang`, body: '{}', timeoutMs: 300 }, 'test CRM'),
      (e: unknown) => e instanceof CrmError && e.retryable && e.code === 'network_error' && /test CRM: network error/.test(e.message),
    );
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 10_000, `gave up after ${took} ms`);
  });

  test('a body that stalls half-way fails within the timeout; a refused connection is retryable', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":'); // and nothing more
    });
    servers.push(srv.server);
    await assert.rejects(send({ method: 'GET', url: `${srv.url}/x`, timeoutMs: 300 }, 'test CRM'), (e: unknown) => e instanceof CrmError && e.retryable);
    const gone = await serve(() => {});
    const url = gone.url;
    await close(gone.server);
    await assert.rejects(send({ method: 'GET', url, timeoutMs: 2000 }, 'test CRM'), (e: unknown) => e instanceof CrmError && e.retryable && !e.message.includes('127.0.0.1'));
  });
});
