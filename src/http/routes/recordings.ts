// Recordings and what provider kinds can do: GET /v1/recordings/{callId}?token=... (the signed
// link alone authorises it; Range supported; the token never reaches a log line: the request
// serializer redacts it) and GET /v1/provider-kinds.
import type { FastifyInstance } from 'fastify';
import type { ProviderCapabilities } from '../../providers/adapter.js';
import type { AppDeps } from '../app.js';
import { PUBLIC } from '../access.js';
import { idParam, withErrors } from '../schemas.js';

export interface ProviderKindInfo {
  kind: string;
  name: string;
  capabilities: ProviderCapabilities;
}

export function recordingRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { callId: string }; Querystring: { token: string } }>(
      '/v1/recordings/:callId',
      {
        config: PUBLIC,
        schema: {
          summary: 'A recording or voicemail, streamed from its provider (the link from the call is its own credential)',
          params: idParam('callId'),
          querystring: { type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 512 } } },
          response: withErrors({}, 403, 404, 416),
        },
      },
      async (req, reply) => {
        const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
        const media = await deps.recordings.stream(req.params.callId, req.query.token, range);
        reply.code(media.status).header('content-type', media.contentType).header('cache-control', 'private, no-store');
        for (const [k, v] of Object.entries(media.headers ?? {})) reply.header(k, v);
        return reply.send(media.body ?? '');
      },
    );

    await app.register(async (scope) => {
      scope.get(
        '/v1/provider-kinds',
        {
          schema: {
            summary: 'The provider kinds this gateway has and what each can do (recording, voicemail, inbound)',
            response: withErrors({
              200: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    kind: { type: 'string' },
                    name: { type: 'string' },
                    capabilities: { type: 'object', additionalProperties: { type: 'boolean' } },
                  },
                },
              },
            }),
          },
        },
        async () => deps.providerKinds,
      );
    });
  };
}
