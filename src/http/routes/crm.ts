// The org's CRM connection and its failed call logs:
// PUT|GET /v1/crm, GET /v1/crm/failed, POST /v1/crm/failed/{callId}/retry; and Zoho PhoneBridge's
// click-to-dial URI (authenticated by the PhoneBridge authorisation parameter, not an org key).
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { CrmService } from '../../crm/crm-service.js';
import { actorOf, orgOf, requireOrgKey, type AppDeps } from '../app.js';
import { ID_PATTERN, idParam, withErrors } from '../schemas.js';

type ClickToDialParser = Parameters<CrmService['phonebridgeClickToDial']>[3];

export function crmRoutes(crm: CrmService, parseClickToDial?: ClickToDialParser) {
  return async (app: FastifyInstance, deps: AppDeps) => {
    await app.register(async (scope) => {
      scope.addHook('onRequest', requireOrgKey(deps.keys));
      const configOut = { type: 'object', additionalProperties: true, properties: { kind: { type: 'string' } } };

      scope.put<{ Body: Record<string, unknown> }>(
        '/v1/crm',
        {
          schema: {
            summary: "Set the org's CRM connection (kind-specific config; secrets are write-only)",
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

      scope.post<{ Params: { callId: string } }>(
        '/v1/crm/failed/:callId/retry',
        { schema: { params: idParam('callId'), response: withErrors({ 202: { type: 'object', properties: { callId: { type: 'string' }, status: { type: 'string' } } } }, 404) } },
        async (req, reply) => {
          await crm.retryFailed(orgOf(req), req.params.callId, actorOf(req));
          return reply.code(202).send({ callId: req.params.callId, status: 'requeued' });
        },
      );
    });

    if (parseClickToDial) {
      await app.register(async (scope) => {
      // Zoho may post its click-to-dial parameters form-encoded
      await scope.register(formbody);
      scope.route<{ Params: { orgId: string; userId: string }; Querystring: Record<string, string>; Body: Record<string, unknown> }>({
        method: ['GET', 'POST'],
        url: '/webhooks/crm/zoho/:orgId/clicktodial/:userId',
        schema: {
          hide: true,
          params: {
            type: 'object',
            required: ['orgId', 'userId'],
            properties: { orgId: { type: 'string', pattern: ID_PATTERN }, userId: { type: 'string', pattern: ID_PATTERN } },
          },
        },
        handler: async (req, reply) => {
          const params = { ...(req.query ?? {}), ...((req.body as Record<string, unknown>) ?? {}) };
          const out = await crm.phonebridgeClickToDial(req.params.orgId, req.params.userId, params, parseClickToDial);
          if (out.headers) reply.headers(out.headers);
          return reply.code(out.statusCode).send(out.body);
        },
      });
      });
    }
  };
}
