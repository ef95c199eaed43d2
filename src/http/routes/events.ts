// GET /v1/events as an HTTP route: the WebSocket upgrade itself is answered by
// src/events/ws-server.ts before fastify sees the request; this route documents it in
// /openapi.json and answers a plain GET (no Upgrade header) with 426.
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import type { AppDeps } from '../deps.js';
import { ID_PATTERN, withErrors } from '../schemas.js';

export function eventsRoutes(_deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.get(
      '/v1/events',
      {
        config: { auth: { agents: 'self' } },
        schema: {
          summary: "Call events over a WebSocket (call.created, call.status, call.incoming, call.matched): the org's, or one user's",
          description:
            'Open with `Connection: Upgrade` and `Upgrade: websocket`. The credential goes in the Authorization header or, from a browser, in `?access_token=`. ' +
            "An agent token hears its own user only: `userId` may be left out, and another user's is refused with 403. " +
            'The first message is `{"type":"hello","orgId":...,"userId":...}`; each later message is one event `{"type":...,"call":{...}}`. ' +
            'A socket whose credential is revoked or expires is closed (1008) within about a second.',
          querystring: {
            type: 'object',
            properties: {
              userId: { type: 'string', pattern: ID_PATTERN, description: "only this user's events" },
              access_token: { type: 'string', description: 'the API key or agent token, for clients that cannot set headers (never logged)' },
            },
          },
          response: withErrors(
            {
              101: { description: 'Switching Protocols: the WebSocket is open', type: 'null' },
            },
            426,
          ),
        },
      },
      async () => {
        throw new DomainError('upgrade_required', 'GET /v1/events is a WebSocket: send Connection: Upgrade and Upgrade: websocket');
      },
    );
  };
}
