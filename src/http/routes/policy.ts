// Dial policy (GET|PUT /v1/dial-policy), routing policy (GET|PUT /v1/routing/policy) and
// GET /v1/routing/explain: which provider a call would use and why, without dialling.
import type { FastifyInstance } from 'fastify';
import type { DialPolicy } from '../../policy/dial-policy.js';
import { effectiveLimits } from '../../policy/dial-policy.js';
import type { RoutingPolicy } from '../../routing/router.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { ID_PATTERN, withErrors } from '../schemas.js';

const dialPolicyRef = { $ref: 'DialPolicy#' };

const routingPolicySchema = {
  type: 'object',
  required: ['failover'],
  additionalProperties: false,
  properties: {
    failover: {
      type: 'object',
      required: ['enabled'],
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        order: { type: 'array', maxItems: 100, items: { type: 'string', pattern: ID_PATTERN } },
      },
    },
  },
} as const;

export function policyRoutes(deps: AppDeps) {
  const { policy, router, audit } = deps;
  return async (app: FastifyInstance) => {

    app.get(
      '/v1/dial-policy',
      {
        schema: {
          summary: "The org's dial policy (with the effective limits)",
          response: withErrors({ 200: { type: 'object', properties: { policy: dialPolicyRef, effectiveLimits: { type: 'object', additionalProperties: { type: 'number' } }, defaults: { type: 'object', additionalProperties: true } } } }),
        },
      },
      async (req) => {
        const p = (await policy.getOrgPolicy(orgOf(req))) ?? {};
        return {
          policy: p,
          effectiveLimits: effectiveLimits(p),
          defaults: {
            countries: 'when countries.allow is empty: the regions of the org users',
            deniedNumberTypes: ['PREMIUM_RATE', 'SHARED_COST', 'UNKNOWN'],
            emergencyNumbers: 'always refused',
          },
        };
      },
    );

    app.put<{ Body: DialPolicy }>(
      '/v1/dial-policy',
      { schema: { summary: "Replace the org's dial policy", body: dialPolicyRef, response: withErrors({ 200: dialPolicyRef }) } },
      async (req) => {
        const orgId = orgOf(req);
        const before = await policy.getOrgPolicy(orgId);
        await policy.putOrgPolicy(orgId, req.body);
        await audit.append(orgId, { actor: actorOf(req), action: 'dial_policy.update', target: { type: 'org', id: orgId }, before: before ?? undefined, after: req.body });
        return req.body;
      },
    );

    app.get('/v1/routing/policy', { schema: { response: withErrors({ 200: routingPolicySchema }) } }, async (req) => router.getPolicy(orgOf(req)));

    app.put<{ Body: RoutingPolicy }>(
      '/v1/routing/policy',
      { schema: { summary: 'Set the failover policy', body: routingPolicySchema, response: withErrors({ 200: routingPolicySchema }) } },
      async (req) => {
        const orgId = orgOf(req);
        const before = await router.getPolicy(orgId);
        await router.putPolicy(orgId, req.body);
        await audit.append(orgId, { actor: actorOf(req), action: 'routing_policy.update', target: { type: 'org', id: orgId }, before, after: req.body });
        return req.body;
      },
    );

    app.get<{ Querystring: { userId: string; to: string } }>(
      '/v1/routing/explain',
      {
        schema: {
          summary: 'Which provider a call would use and why (assignment, region, health, failover, dial policy) — without dialling',
          querystring: {
            type: 'object',
            required: ['userId', 'to'],
            additionalProperties: false,
            properties: { userId: { type: 'string', pattern: ID_PATTERN }, to: { type: 'string', minLength: 1, maxLength: 64 } },
          },
          response: withErrors(
            {
              200: {
                type: 'object',
                properties: {
                  providerId: { type: ['string', 'null'] },
                  wouldDial: { type: 'boolean' },
                  to: { type: ['string', 'null'] },
                  reasons: { type: 'array', items: { type: 'string' } },
                  candidates: { type: 'array', items: { type: 'string' } },
                  failover: { type: 'boolean' },
                  policy: {
                    type: 'object',
                    properties: { allowed: { type: 'boolean' }, rule: { type: 'string' }, country: { type: 'string' }, numberType: { type: 'string' }, retryAt: { type: 'string' }, detail: { type: 'string' } },
                  },
                  dnc: { type: 'object', properties: { listed: { type: 'boolean' } } },
                  callerId: { type: 'object', properties: { number: { type: ['string', 'null'] }, reason: { type: 'string' } } },
                },
              },
            },
            404,
          ),
        },
      },
      async (req) => {
        const orgId = orgOf(req);
        const [snapshot, user] = await Promise.all([deps.configs.load(orgId), deps.directory.getUser(orgId, req.query.userId)]);
        return router.explain(snapshot, user, req.query.to);
      },
    );
  };
}
