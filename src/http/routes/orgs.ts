// POST /v1/orgs: the operator token (DIALGATE_ADMIN_TOKEN) creates an org; its API key is shown once.
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.js';
import { withErrors } from '../schemas.js';

export function orgRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: { name: string } }>(
      '/v1/orgs',
      {
        schema: {
          summary: 'Create an org (operator token); returns its API key once',
          body: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
          },
          response: withErrors({
            201: {
              type: 'object',
              required: ['id', 'name', 'apiKey'],
              properties: { id: { type: 'string' }, name: { type: 'string' }, apiKey: { type: 'string' }, createdAt: { type: 'string' } },
            },
          }),
        },
        config: { auth: { operator: true } },
      },
      async (req, reply) => {
        const org = await deps.orgs.create(req.body.name);
        req.log.info({ orgId: org.id, keyId: org.keyId }, 'org created');
        return reply.code(201).send({ id: org.id, name: org.name, apiKey: org.apiKey, createdAt: org.createdAt });
      },
    );
  };
}
