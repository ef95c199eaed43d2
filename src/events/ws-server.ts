// WebSocket /v1/events: agent screens receive call events (call.created, call.status,
// call.incoming, call.matched, call.recording, call.missed, call.updated) for their org,
// optionally narrowed to one user. The first message is always `calls.snapshot`: the live calls
// this client may see, read once the subscription is in place (events arriving meanwhile wait
// behind it), so a reloaded screen shows its ringing and answered calls again. Authenticated with
// an org key or an agent token (Authorization header, or ?access_token= for browsers); an agent
// token hears its own user only (another user's userId is refused with 403). Heartbeats drop dead
// sockets; a consumer that cannot keep up is cut off instead of buffered without bound.

import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import { bearer, type ApiKeyVerifier } from '../auth/api-keys.js';
import { agentMayActFor } from '../http/access.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PublicCall } from '../domain/types.js';
import type { DeliveredEvent, EventBus } from '../store/events/port.js';

const USER_RE = /^[A-Za-z0-9._@-]{1,128}$/;
export const MAX_BUFFERED_BYTES = 1 << 20;

export interface EventsSocketServer {
  count(): number;
  close(): Promise<void>;
}

interface Alive extends WebSocket {
  isAlive?: boolean;
  /** the credential it opened with: checked again while it is open */
  credential?: string;
}

/** How often open sockets' credentials are checked again: a revoked or expired one is cut off. */
const RECHECK_MS = 1000;

function reject(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroy();
}

export interface EventsSocketDeps {
  metrics: Metrics;
  events: EventBus;
  keys: ApiKeyVerifier;
  logger: Logger;
  /** the live calls of the org (one user's when userId is set), for the first message */
  snapshot?: (orgId: string, userId?: string) => Promise<PublicCall[]>;
}

export function eventsSocket(app: FastifyInstance, deps: EventsSocketDeps, opts: { heartbeatMs?: number } = {}): EventsSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  const { metrics, events, keys, logger, snapshot } = deps;

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/v1/events') return reject(socket, 404, 'not_found', 'no WebSocket endpoint here');
    let userId = url.searchParams.get('userId');
    if (userId !== null && !USER_RE.test(userId)) return reject(socket, 400, 'validation_failed', 'userId is not a valid user id');
    const token = bearer(req.headers.authorization) ?? url.searchParams.get('access_token') ?? undefined;
    keys
      .verify(token)
      .then((principal) => {
        if (!principal) return reject(socket, 401, 'unauthorized', 'a valid org API key or agent token is required');
        if (!agentMayActFor(principal, userId)) return reject(socket, 403, 'forbidden', 'an agent token hears its own user only');
        if (principal.scope === 'agent') userId = principal.userId ?? null;
        wss.handleUpgrade(req, socket, head, (ws: Alive) => {
          ws.isAlive = true;
          ws.credential = token;
          metrics.wsConnections.inc();
          // events that arrive before the snapshot is sent wait behind it
          let held: DeliveredEvent[] | null = [];
          const send = (ev: DeliveredEvent) => {
            if (userId && ev.userId !== userId) return;
            if (held) {
              held.push(ev);
              return;
            }
            // once cut off, events keep arriving until 'close' unsubscribes: count the drop once
            if (ws.readyState !== ws.OPEN) return;
            if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
              metrics.wsDropped.inc({ reason: 'slow_consumer' });
              ws.terminate();
              return;
            }
            ws.send(ev.json);
          };
          let unsubscribe: (() => void) | undefined;
          let closed = false;
          ws.on('pong', () => (ws.isAlive = true));
          ws.on('message', () => {}); // clients have nothing to say; pings are answered by ws
          ws.on('error', () => ws.terminate());
          ws.on('close', () => {
            closed = true;
            unsubscribe?.();
            metrics.wsConnections.dec();
          });
          // hello once the subscription is in place: from then on nothing of the org is missed
          events.subscribe(principal.orgId, send).then(
            async (off) => {
              if (closed) return off();
              unsubscribe = off;
              let calls: PublicCall[] = [];
              try {
                calls = snapshot ? await snapshot(principal.orgId, userId ?? undefined) : [];
              } catch (e) {
                logger.warn({ err: (e as Error).message }, 'live-calls snapshot failed; sending an empty one');
              }
              if (closed || ws.readyState !== ws.OPEN) return;
              ws.send(JSON.stringify({ type: 'calls.snapshot', calls }));
              ws.send(JSON.stringify({ type: 'hello', orgId: principal.orgId, userId: userId ?? null }));
              const queued = held ?? [];
              held = null;
              for (const ev of queued) send(ev);
            },
            (e: Error) => {
              logger.warn({ err: e.message }, 'events subscription failed');
              ws.close(1011, 'events unavailable');
            },
          );
        });
      })
      .catch((e: Error) => {
        logger.warn({ err: e.message }, 'events socket authentication failed');
        reject(socket, 503, 'store_unavailable', 'cannot verify the key right now');
      });
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients as Set<Alive>) {
      if (ws.readyState !== ws.OPEN) continue;
      if (ws.isAlive === false) {
        metrics.wsDropped.inc({ reason: 'heartbeat' });
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }, opts.heartbeatMs ?? Number(process.env.DIALGATE_WS_HEARTBEAT_MS ?? 30_000));
  heartbeat.unref();

  // a socket outlives its credential's revocation or expiry by about a second at most (the
  // verifier's short cache keeps this to one store read per credential and second)
  const recheck = setInterval(() => {
    for (const ws of wss.clients as Set<Alive>) {
      if (ws.readyState !== ws.OPEN) continue;
      keys.verify(ws.credential).then(
        (p) => {
          if (p || ws.readyState !== ws.OPEN) return;
          metrics.wsDropped.inc({ reason: 'revoked' });
          ws.close(1008, 'credential revoked or expired');
        },
        () => {}, // the store unreachable: keep the socket, check again next time
      );
    }
  }, RECHECK_MS);
  recheck.unref();

  return {
    count: () => wss.clients.size,
    close: async () => {
      clearInterval(heartbeat);
      clearInterval(recheck);
      for (const ws of wss.clients) ws.close(1001, 'gateway shutting down');
      await new Promise<void>((r) => wss.close(() => r()));
      for (const ws of wss.clients) ws.terminate();
    },
  };
}
