// Recordings and what provider kinds can do: GET /v1/recordings/{callId}?token=... (the signed
// link alone authorises it; Range supported; the token never reaches a log line: the request
// serializer redacts it) and GET /v1/provider-kinds.
import type { FastifyInstance } from 'fastify';
import type { ProviderCapabilities } from '../../providers/adapter.js';
import type { AppDeps, ProviderKindInfo } from '../deps.js';
import { PUBLIC } from '../access.js';
import { idParam, withErrors } from '../schemas.js';

/** The audio types a recording comes in (the provider's own: the sim and Twilio WAV, RingCentral MP3 or WAV). */
const AUDIO_TYPES = ['audio/wav', 'audio/x-wav', 'audio/mpeg'];
const audio = (description: string, headers: Record<string, unknown> = {}) => ({
  description,
  headers: {
    'Content-Length': { schema: { type: 'integer' } },
    'Accept-Ranges': { schema: { type: 'string', const: 'bytes' } },
    'Cache-Control': { description: 'private, no-store: the link is a credential', schema: { type: 'string' } },
    ...headers,
  },
  content: Object.fromEntries(AUDIO_TYPES.map((t) => [t, { schema: { type: 'string', contentMediaType: t } }])),
});
const err = (description: string) => ({ description, $ref: 'Error#' });

/** What GET /v1/recordings/{callId} answers (audio is not serialised by fastify: described here). */
const RECORDING_RESPONSES = {
  200: audio('the whole recording or voicemail'),
  206: audio('the byte range asked for with Range: bytes=...', { 'Content-Range': { description: 'bytes <first>-<last>/<size>', schema: { type: 'string' } } }),
  400: err('no token, or a malformed call id'),
  403: err('a tampered or expired token, or a token for another call or org (code forbidden)'),
  404: err('the call has no such recording or voicemail (none made, not available yet, or gone from the provider)'),
  416: { description: 'a Range past the end of the recording: no body', headers: { 'Content-Range': { description: 'bytes */<size>', schema: { type: 'string' } } } },
};


export function recordingRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { callId: string }; Querystring: { token: string } }>(
      '/v1/recordings/:callId',
      {
        config: { ...PUBLIC, docResponses: RECORDING_RESPONSES },
        schema: {
          summary: 'A recording or voicemail, streamed from its provider (the link from the call is its own credential)',
          description:
            "The link is the call's `recording.url` or `voicemail.url`: `${PUBLIC_URL}/v1/recordings/{callId}?token=...`, signed by the gateway and valid for DIALGATE_RECORDING_LINK_TTL_SEC. It needs no other credential; the audio is relayed from the provider, so provider credentials never leave the gateway. Supports Range (206).",
          params: idParam('callId'),
          querystring: {
            type: 'object',
            required: ['token'],
            properties: { token: { type: 'string', minLength: 1, maxLength: 512, description: 'the signed, expiring token of the link (names the org, the call and recording|voicemail)' } },
          },
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
                  required: ['kind', 'name', 'capabilities'],
                  properties: {
                    kind: { type: 'string' },
                    name: { type: 'string' },
                    capabilities: {
                      type: 'object',
                      required: ['recording', 'voicemail', 'inbound'],
                      properties: {
                        recording: { type: 'boolean', description: 'honours a provider\'s recording: "on"' },
                        voicemail: { type: 'boolean', description: 'honours a provider\'s voicemail: "on" (a missed inbound call leaves a voicemail)' },
                        inbound: { type: 'boolean', description: 'routes inbound calls to users\' DIDs' },
                      },
                      additionalProperties: { type: 'boolean' },
                    },
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
