// The org's CRM connection and its failed call logs: PUT|GET /v1/crm, GET /v1/crm/failed,
// POST /v1/crm/failed/{callId}/retry, GET /v1/crm/unresolved (calls awaiting the agent's pick); and the CRM's own requests to the gateway,
// /webhooks/crm/{kind}/{orgId}/... (Zoho PhoneBridge's click-to-dial), authenticated by the CRM
// kind's own scheme rather than an org key.
import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import type { WebhookRequest } from '../../providers/adapter.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf, PUBLIC } from '../access.js';
import { textResponse } from '../openapi.js';
import { ID_PATTERN, idParam, pageQuery, withErrors } from '../schemas.js';

export function crmRoutes(deps: AppDeps) {
  const { crm } = deps;
  return async (app: FastifyInstance) => {
    await app.register(async (scope) => {
      const configOut = { type: 'object', additionalProperties: true, properties: { kind: { type: 'string' } } };

      scope.put<{ Body: Record<string, unknown> }>(
        '/v1/crm',
        {
          schema: {
            summary: "Set the org's CRM connection (kind-specific config; secrets are write-only; unknown fields are refused)",
            body: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: crm.kindNames() } } },
            response: withErrors({ 200: configOut }, 422),
          },
        },
        async (req) => crm.put(orgOf(req), req.body, actorOf(req)),
      );

      scope.get('/v1/crm', { schema: { response: withErrors({ 200: configOut }, 404) } }, async (req, reply) => {
        const cfg = await crm.get(orgOf(req));
        if (!cfg) return reply.code(404).send({ error: { code: 'not_found', message: 'no CRM connection is set for this org' } });
        return cfg;
      });

      scope.get(
        '/v1/crm/failed',
        {
          schema: {
            response: withErrors({
              200: {
                type: 'object',
                properties: {
                  items: {
                    type: 'array',
                    items: { type: 'object', properties: { callId: { type: 'string' }, reason: { type: 'string' }, attempts: { type: 'integer' }, failedAt: { type: ['string', 'null'] } } },
                  },
                },
              },
            }),
          },
        },
        async (req) => ({ items: await crm.listFailed(orgOf(req)) }),
      );

      scope.get<{ Querystring: { limit: number } }>(
        '/v1/crm/unresolved',
        {
          schema: {
            summary: 'Calls whose CRM record is still to be picked among several candidates (PATCH /v1/calls/{id} crmRecord links them)',
            querystring: { type: 'object', additionalProperties: false, properties: { limit: pageQuery.limit } },
            response: withErrors({ 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: 'Call#' }, description: 'oldest first; each with its candidates' } } } }),
          },
        },
        async (req) => ({ items: await deps.calls.unresolved(orgOf(req), req.query.limit) }),
      );

      scope.post<{ Params: { callId: string } }>(
        '/v1/crm/failed/:callId/retry',
        { schema: { params: idParam('callId'), response: withErrors({ 202: { type: 'object', properties: { callId: { type: 'string' }, status: { type: 'string' } } } }, 404) } },
        async (req, reply) => {
          await crm.retryFailed(orgOf(req), req.params.callId, actorOf(req));
          return reply.code(202).send({ callId: req.params.callId, status: 'requeued' });
        },
      );
    });

    await app.register(async (scope) => {
      // CRMs may post their parameters form-encoded
      await scope.register(formbody);
      scope.route<{ Params: { kind: string; orgId: string; '*': string }; Querystring: Record<string, string | string[]>; Body: unknown }>({
        method: ['GET', 'POST'],
        url: '/webhooks/crm/:kind/:orgId/*',
        // authenticated by the CRM kind's own scheme
        config: { ...PUBLIC, docResponses: { 200: textResponse("the CRM kind's own reply", '*/*'), 404: { description: 'the org has no CRM connection of this kind taking requests', $ref: 'Error#' } } },
        schema: {
          tags: ['webhooks'],
          summary: "A CRM's requests to the gateway (e.g. Zoho PhoneBridge click-to-dial), authenticated by the CRM kind's own scheme",
          params: {
            type: 'object',
            required: ['kind', 'orgId'],
            properties: { kind: { type: 'string', enum: crm.kindNames() }, orgId: { type: 'string', pattern: ID_PATTERN }, '*': { type: 'string', maxLength: 300 } },
          },
        },
        handler: async (req, reply) => {
          const wreq: WebhookRequest = {
            method: req.method,
            subpath: '/' + (req.params['*'] ?? ''),
            publicUrl: deps.publicUrl() + req.url,
            query: req.query ?? {},
            headers: req.headers,
            rawBody: Buffer.alloc(0),
            contentType: String(req.headers['content-type'] ?? ''),
            body: req.body ?? {},
          };
          const res = await crm.webhook(req.params.kind, req.params.orgId, wreq);
          if (res.headers) reply.headers(res.headers);
          reply.code(res.statusCode);
          return res.body === undefined ? reply.send() : reply.send(res.body);
        },
      });
    });
  };
}
