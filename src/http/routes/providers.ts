// Providers: install (for all / specific / future users), list with user counts, details,
// update, uninstall, and the provider's users.
import type { FastifyInstance } from 'fastify';
import type { ProviderBody, ProviderPatchBody } from '../../directory/directory-service.js';
import { breakerSettingsSchema } from '../../providers/breaker.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { ID_PATTERN, idParam, pageOf, pageQuery, regionsSchema, withErrors } from '../schemas.js';

const providerRef = { $ref: 'Provider#' };
const assignRef = { $ref: 'AssignResult#' };
const userIds = { type: 'array', minItems: 1, maxItems: 10_000, items: { type: 'string', pattern: ID_PATTERN } } as const;

type IdParams = { id: string };
const callerIdPoolSchema = { oneOf: [{ type: 'array', maxItems: 1000, items: { type: 'string', minLength: 2, maxLength: 32 } }, { type: 'null' }] };
type VerifyQuery = { verify?: boolean };

/** ?verify=false skips the credentials check (offline installs) */
const verifyQuery = { type: 'object', additionalProperties: false, properties: { verify: { type: 'boolean' } } } as const;

export function providerRoutes(deps: AppDeps) {
  const { directory } = deps;
  return async (app: FastifyInstance) => {

    app.post<{ Body: ProviderBody; Querystring: VerifyQuery }>(
      '/v1/providers',
      {
        schema: {
          summary: 'Install a provider (its credentials are checked first unless ?verify=false)',
          querystring: verifyQuery,
          body: {
            type: 'object',
            required: ['kind', 'name', 'config'],
            additionalProperties: false,
            properties: {
              kind: { type: 'string', enum: deps.providers.kindNames() },
              name: { type: 'string', minLength: 1, maxLength: 200 },
              // validated against the kind's own schema by the provider runtime
              config: { type: 'object' },
              regions: regionsSchema,
              priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 },
              dialPolicy: { oneOf: [{ $ref: 'DialPolicy#' }, { type: 'null' }] },
              callsPerSecond: { oneOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 10_000 }, { type: 'null' }] },
              callerIdPool: callerIdPoolSchema,
              recording: { type: 'string', enum: ['off', 'on'] },
              voicemail: { type: 'string', enum: ['off', 'on'] },
              health: breakerSettingsSchema,
              install: {
                type: 'object',
                required: ['scope'],
                additionalProperties: false,
                properties: {
                  scope: { type: 'string', enum: ['all', 'specific'] },
                  userIds: { type: 'array', maxItems: 10_000, items: { type: 'string', pattern: ID_PATTERN } },
                  futureUsers: { type: 'boolean' },
                },
              },
            },
          },
          response: withErrors({ 201: providerRef }, 422, 502, 503),
        },
      },
      async (req, reply) => {
        const orgId = orgOf(req);
        const { provider, install } = await directory.createProvider(orgId, req.body, actorOf(req), { verify: req.query.verify });
        return reply.code(201).send({ ...(await directory.view(orgId, provider)), install });
      },
    );

    app.get(
      '/v1/providers',
      { schema: { response: withErrors({ 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: providerRef } } } }) } },
      async (req) => ({ items: await directory.listProviders(orgOf(req)) }),
    );

    app.get<{ Params: IdParams }>(
      '/v1/providers/:id',
      { schema: { params: idParam('id'), response: withErrors({ 200: providerRef }, 404) } },
      async (req) => {
        const orgId = orgOf(req);
        return directory.view(orgId, await directory.getProvider(orgId, req.params.id));
      },
    );

    app.patch<{ Params: IdParams; Body: ProviderPatchBody; Querystring: VerifyQuery }>(
      '/v1/providers/:id',
      {
        schema: {
          summary: 'Update a provider (a new config is checked with the provider unless ?verify=false, and closes its breaker)',
          params: idParam('id'),
          querystring: verifyQuery,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 200 },
              config: { type: 'object' },
              regions: regionsSchema,
              priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 },
              futureUsers: { type: 'boolean' },
              dialPolicy: { oneOf: [{ $ref: 'DialPolicy#' }, { type: 'null' }] },
              callsPerSecond: { oneOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 10_000 }, { type: 'null' }] },
              callerIdPool: callerIdPoolSchema,
              recording: { type: 'string', enum: ['off', 'on'] },
              voicemail: { type: 'string', enum: ['off', 'on'] },
              health: { oneOf: [breakerSettingsSchema, { type: 'null' }] },
            },
          },
          response: withErrors({ 200: providerRef }, 404, 422),
        },
      },
      async (req) => {
        const orgId = orgOf(req);
        return directory.view(orgId, await directory.updateProvider(orgId, req.params.id, req.body, actorOf(req), { verify: req.query.verify }));
      },
    );

    app.post<{ Params: IdParams }>(
      '/v1/providers/:id/health/reset',
      {
        schema: {
          summary: "Close a provider's circuit breaker on every instance",
          params: idParam('id'),
          response: withErrors({ 200: { type: 'object', additionalProperties: true } }, 404),
        },
      },
      async (req) => directory.resetHealth(orgOf(req), req.params.id, actorOf(req)),
    );

    app.delete<{ Params: IdParams; Querystring: { force?: boolean } }>(
      '/v1/providers/:id',
      {
        schema: {
          params: idParam('id'),
          querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } },
          response: withErrors({ 204: { type: 'null' } }, 404, 409),
        },
      },
      async (req, reply) => {
        await directory.deleteProvider(orgOf(req), req.params.id, req.query.force ?? false, actorOf(req));
        return reply.code(204).send();
      },
    );

    app.get<{ Params: IdParams; Querystring: { limit: number; cursor?: string } }>(
      '/v1/providers/:id/users',
      {
        schema: {
          params: idParam('id'),
          querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
          response: withErrors({ 200: pageOf('User') }, 404),
        },
      },
      async (req) => directory.listProviderUsers(orgOf(req), req.params.id, req.query),
    );

    app.post<{ Params: IdParams; Body: { userIds: string[] } }>(
      '/v1/providers/:id/users',
      {
        schema: {
          summary: 'Add users to a provider (a single conflicting user answers 409/422)',
          params: idParam('id'),
          body: { type: 'object', required: ['userIds'], additionalProperties: false, properties: { userIds } },
          response: withErrors({ 200: assignRef }, 404, 409, 422),
        },
      },
      async (req) => directory.addUsers(orgOf(req), req.params.id, req.body.userIds, actorOf(req)),
    );

    app.delete<{ Params: { id: string; userId: string } }>(
      '/v1/providers/:id/users/:userId',
      {
        schema: {
          params: {
            type: 'object',
            required: ['id', 'userId'],
            additionalProperties: false,
            properties: { id: { type: 'string', pattern: ID_PATTERN }, userId: { type: 'string', pattern: ID_PATTERN } },
          },
          response: withErrors({ 204: { type: 'null' } }, 404),
        },
      },
      async (req, reply) => {
        await directory.removeUser(orgOf(req), req.params.id, req.params.userId, actorOf(req));
        return reply.code(204).send();
      },
    );

    app.post<{ Params: IdParams; Body: { futureUsers?: boolean } }>(
      '/v1/providers/:id/install-all',
      {
        schema: {
          summary: 'Extend a provider to all users (and optionally future users); never moves anybody',
          params: idParam('id'),
          body: { type: 'object', additionalProperties: false, properties: { futureUsers: { type: 'boolean' } } },
          response: withErrors({ 200: assignRef }, 404),
        },
        // every field is optional, so no body at all means {} (futureUsers false)
        preValidation: async (req) => {
          if (req.body === undefined) req.body = {};
        },
      },
      async (req) => directory.installAll(orgOf(req), req.params.id, req.body?.futureUsers ?? false, actorOf(req)),
    );
  };
}
