// Provider webhooks: /webhooks/{kind}/{providerId}/... Bodies are kept raw (signatures cover the
// exact bytes) and parsed by content type; the adapter authenticates and answers in its
// provider's own format (TwiML, JSON, ...).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseQs } from 'node:querystring';
import type { WebhookRequest } from '../../providers/adapter.js';
import type { AppDeps } from '../deps.js';
import { PUBLIC } from '../access.js';
import { textResponse } from '../openapi.js';
import { ID_PATTERN, sendError } from '../schemas.js';

function parseBody(contentType: string, raw: Buffer): { ok: true; body: unknown } | { ok: false } {
  if (raw.length === 0) return { ok: true, body: {} };
  const ct = contentType.split(';')[0].trim().toLowerCase();
  if (ct === 'application/x-www-form-urlencoded') return { ok: true, body: { ...parseQs(raw.toString('utf8')) } };
  if (ct === 'application/json' || ct.endsWith('+json')) {
    try {
      return { ok: true, body: JSON.parse(raw.toString('utf8')) };
    } catch {
      return { ok: false };
    }
  }
  return { ok: true, body: raw };
}

export function webhookRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    // raw bodies for every content type, in this scope only
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body));

    const kinds = deps.providers.kindNames();
    app.route<{ Params: { kind: string; providerId: string; '*': string } }>({
      method: ['GET', 'POST'],
      url: '/webhooks/:kind/:providerId/*',
      // authenticated by the adapter, in the provider's own scheme (signatures, tokens)
      config: {
        ...PUBLIC,
        docResponses: {
          200: textResponse("the provider's own reply (TwiML, JSON or empty)", '*/*'),
          400: { description: 'a body that does not parse', $ref: 'Error#' },
          401: textResponse('a request the provider did not sign (bad or missing signature or token)', '*/*'),
          404: { description: 'no such provider of this kind', $ref: 'Error#' },
        },
      },
      schema: {
        tags: ['webhooks'],
        summary: "A provider's requests to the gateway: call status callbacks, inbound calls, answer URLs",
        description:
          'Set up by the gateway when it installs the provider; each kind authenticates its own requests (Twilio: X-Twilio-Signature over PUBLIC_URL + path; RingCentral: the verification token; sim: none) and answers in its own format. The body is taken raw (form, JSON or anything), as the signature covers its bytes.',
        params: {
          type: 'object',
          properties: {
            kind: { type: 'string', enum: kinds },
            providerId: { type: 'string', pattern: ID_PATTERN },
            '*': { type: 'string', maxLength: 200 },
          },
        },
      },
      handler: async (req, reply) => {
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const contentType = String(req.headers['content-type'] ?? '');
        const parsed = parseBody(contentType, raw);
        if (!parsed.ok) return sendError(reply, 400, 'validation_failed', 'the body is not valid JSON');
        // signatures cover the URL the provider requested: rebuild it from PUBLIC_URL so it holds
        // behind proxies that rewrite Host or scheme
        const publicUrl = deps.publicUrl() + req.url;
        const q = req.query as Record<string, string | string[]>;
        const wreq: WebhookRequest = {
          method: req.method,
          subpath: '/' + (req.params['*'] ?? ''),
          publicUrl,
          query: q ?? {},
          headers: req.headers,
          rawBody: raw,
          contentType,
          body: parsed.body,
        };
        const res = await deps.webhooks.handle(req.params.kind, req.params.providerId, wreq);
        if (res.headers) reply.headers(res.headers);
        reply.code(res.statusCode);
        if (res.body === undefined) return reply.send();
        if (typeof res.body === 'string') return reply.send(res.body);
        return reply.type('application/json').send(JSON.stringify(res.body));
      },
    });
  };
}
