// The org's credentials: GET|POST /v1/api-keys, DELETE /v1/api-keys/{id} (scoped API keys, the
// key shown once) and POST /v1/agent-tokens, DELETE /v1/agent-tokens/{id} (short-lived tokens a
// CRM widget's backend gets for one agent's screen). Who may call them: src/http/access.ts.
import type { FastifyInstance } from 'fastify';
import { AGENT_TOKEN_TTL, type ApiKeyScope } from '../../auth/credential-service.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { ID_PATTERN, idParam, withErrors } from '../schemas.js';

const keyProps = {
  id: { type: 'string' },
  name: { type: 'string' },
  scope: { type: 'string', enum: ['admin', 'read'] },
  createdAt: { type: 'string' },
} as const;
const keyView = { type: 'object', required: ['id', 'name', 'scope', 'createdAt'], properties: keyProps } as const;

export function credentialRoutes(deps: AppDeps) {
  const { credentials } = deps;
  return async (app: FastifyInstance) => {
    app.get(
      '/v1/api-keys',
      {
        schema: {
          summary: "The org's API keys (never their secrets)",
          response: withErrors({ 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: keyView } } } }),
        },
      },
      async (req) => ({ items: await credentials.listKeys(orgOf(req)) }),
    );

    app.post<{ Body: { name: string; scope: ApiKeyScope } }>(
      '/v1/api-keys',
      {
        schema: {
          summary: 'Create an API key: scope admin (everything) or read (GET only); the key is shown once',
          body: {
            type: 'object',
            required: ['name', 'scope'],
            additionalProperties: false,
            properties: { name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }, scope: { type: 'string', enum: ['admin', 'read'] } },
          },
          response: withErrors({ 201: { type: 'object', required: ['id', 'name', 'scope', 'createdAt', 'apiKey'], properties: { ...keyProps, apiKey: { type: 'string' } } } }),
        },
      },
      async (req, reply) => reply.code(201).send(await credentials.createKey(orgOf(req), req.body, actorOf(req))),
    );

    app.delete<{ Params: { id: string } }>(
      '/v1/api-keys/:id',
      {
        schema: {
          summary: 'Revoke an API key (refused on every instance within a second); the last admin key is kept (409)',
          params: idParam('id'),
          response: withErrors({ 204: { type: 'null' } }, 404, 409),
        },
      },
      async (req, reply) => {
        await credentials.revokeKey(orgOf(req), req.params.id, actorOf(req));
        return reply.code(204).send();
      },
    );

    app.post<{ Body: { userId: string; ttlSec?: number } }>(
      '/v1/agent-tokens',
      {
        schema: {
          summary: "An agent token for one user's screen: its events, its calls; nothing else",
          description: `Revoked by DELETE /v1/agent-tokens/{id}, by its expiry, and when the user is deleted, moved to another provider or unassigned. ttlSec defaults to ${AGENT_TOKEN_TTL.defaultSec}.`,
          body: {
            type: 'object',
            required: ['userId'],
            additionalProperties: false,
            properties: {
              userId: { type: 'string', pattern: ID_PATTERN },
              ttlSec: { type: 'integer', minimum: 1, maximum: AGENT_TOKEN_TTL.maxSec },
            },
          },
          response: withErrors(
            {
              201: {
                type: 'object',
                required: ['id', 'token', 'userId', 'expiresAt'],
                properties: { id: { type: 'string' }, token: { type: 'string' }, userId: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
              },
            },
            404,
          ),
        },
      },
      async (req, reply) => reply.code(201).send(await credentials.createAgentToken(orgOf(req), req.body, actorOf(req))),
    );

    app.delete<{ Params: { id: string } }>(
      '/v1/agent-tokens/:id',
      { schema: { summary: 'Revoke an agent token (refused on every instance within a second)', params: idParam('id'), response: withErrors({ 204: { type: 'null' } }, 404) } },
      async (req, reply) => {
        await credentials.revokeAgentToken(orgOf(req), req.params.id, actorOf(req));
        return reply.code(204).send();
      },
    );
  };
}
