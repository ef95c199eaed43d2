// Users: PUT|GET|DELETE /v1/users/{id}, GET /v1/users, POST /v1/users/{id}/move (atomic).
import type { FastifyInstance } from 'fastify';
import { RING_TIMEOUT_SEC } from '../../domain/types.js';
import type { UserBody } from '../../directory/directory-service.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { COUNTRY, ID_PATTERN, idParam, pageOf, pageQuery, withErrors } from '../schemas.js';

const userBody = {
  type: 'object',
  required: ['region'],
  additionalProperties: false,
  properties: {
    region: COUNTRY,
    // names are shown on agents' screens and in CRMs: no control characters
    name: { type: 'string', maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' },
    email: { type: 'string', maxLength: 320, format: undefined, pattern: '^[^\\s@]+@[^\\s@]+$' },
    phone: { type: 'string', minLength: 1, maxLength: 64 },
    sipUri: { type: 'string', maxLength: 512, pattern: '^sips?:[^\\s]+$' },
    numbers: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 64 } },
    crmUserId: { type: 'string', minLength: 1, maxLength: 128 },
    ringTimeoutSec: { type: 'integer', minimum: RING_TIMEOUT_SEC.min, maximum: RING_TIMEOUT_SEC.max },
    dialPolicy: { $ref: 'DialPolicy#' },
  },
} as const;

type IdParams = { id: string };

export function userRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    const userRef = { $ref: 'User#' };

    app.put<{ Params: IdParams; Body: UserBody }>(
      '/v1/users/:id',
      { schema: { summary: 'Create or replace a user', params: idParam('id'), body: userBody, response: withErrors({ 200: userRef, 201: userRef }, 409, 422) } },
      async (req, reply) => {
        const { user, created } = await deps.directory.putUser(orgOf(req), req.params.id, req.body, actorOf(req));
        return reply.code(created ? 201 : 200).send(user);
      },
    );

    app.get<{ Params: IdParams }>(
      '/v1/users/:id',
      { schema: { params: idParam('id'), response: withErrors({ 200: userRef }, 404) } },
      async (req) => deps.directory.getUser(orgOf(req), req.params.id),
    );

    app.delete<{ Params: IdParams }>(
      '/v1/users/:id',
      { schema: { params: idParam('id'), response: withErrors({ 204: { type: 'null' } }, 404) } },
      async (req, reply) => {
        await deps.directory.deleteUser(orgOf(req), req.params.id, actorOf(req));
        return reply.code(204).send();
      },
    );

    app.get<{ Querystring: { limit: number; cursor?: string; providerId?: string; region?: string; unassigned?: boolean } }>(
      '/v1/users',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { ...pageQuery, providerId: { type: 'string', pattern: ID_PATTERN }, region: COUNTRY, unassigned: { type: 'boolean' } },
          },
          response: withErrors({ 200: pageOf('User') }),
        },
      },
      async (req) => deps.directory.listUsers(orgOf(req), req.query),
    );

    app.post<{ Params: IdParams; Body: { providerId: string } }>(
      '/v1/users/:id/move',
      {
        schema: {
          summary: 'Move a user to another provider in one atomic step',
          params: idParam('id'),
          body: { type: 'object', required: ['providerId'], additionalProperties: false, properties: { providerId: { type: 'string', pattern: ID_PATTERN } } },
          response: withErrors({ 200: userRef }, 404, 422),
        },
      },
      async (req) => deps.directory.moveUser(orgOf(req), req.params.id, req.body.providerId, actorOf(req)),
    );
  };
}
