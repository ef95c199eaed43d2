// The click-to-call baseline: a bare node:http server that reads the JSON body, does one Redis
// GET and answers 201 with a small JSON call. It is what the gateway's throughput is compared
// with (same machine, same load generator, same Redis). Run by processes.ts as a child process.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const port = Number(process.env.PORT ?? 0);

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: { userId?: string; to?: string };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"code":"validation_failed"}}');
      return;
    }
    redis.get(`bare:user:${body.userId}`).then(
      (v) => {
        const now = new Date().toISOString();
        const out = JSON.stringify({ id: 'call_' + randomBytes(8).toString('hex'), userId: body.userId, to: body.to, found: v !== null, status: 'queued', createdAt: now });
        res.writeHead(201, { 'content-type': 'application/json' }).end(out);
      },
      () => res.writeHead(503).end(),
    );
  });
});

server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
const stop = () => {
  server.close();
  redis.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
