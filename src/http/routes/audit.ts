// GET /v1/audit: every admin change, newest first (actor = API key id, before/after redacted).
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.js';
import { orgOf } from '../access.js';
import { pageQuery, withErrors } from '../schemas.js';

export function auditRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: { limit: number; cursor?: string } }>(
      '/v1/audit',
      {
        schema: {
          querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
          response: withErrors({
            200: {
              type: 'object',
              required: ['items', 'nextCursor'],
              properties: {
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'string' },
                      at: { type: 'string' },
                      actor: { type: 'string' },
                      action: { type: 'string' },
                      target: { type: 'object', properties: { type: { type: 'string' }, id: { type: 'string' } } },
                      before: {},
                      after: {},
                      detail: {},
                    },
                  },
                },
                nextCursor: { type: ['string', 'null'] },
              },
            },
          }),
        },
      },
      async (req) => deps.audit.list(orgOf(req), req.query),
    );
  };
}
