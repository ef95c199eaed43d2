// POST /v1/trials: test calls through several providers side by side (202 {id}); GET
// /v1/trials/{id}: progress and the side-by-side report (same figures as the performance API,
// and each provider's cost per call from its rate table).
import type { FastifyInstance } from 'fastify';
import type { TrialSpec } from '../../store/trials/port.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { ID_PATTERN, idParam, withErrors } from '../schemas.js';
import { callsCostSchema } from './costs.js';
import { providerFiguresSchema } from './performance.js';

const trialBody = {
  type: 'object',
  required: ['providerIds', 'to'],
  additionalProperties: false,
  properties: {
    providerIds: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: { type: 'string', pattern: ID_PATTERN } },
    to: { type: 'string', minLength: 1, maxLength: 64 },
    calls: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
    concurrency: { type: 'integer', minimum: 1, maximum: 50, default: 1 },
    hangUpAfterMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 5000 },
  },
} as const;

/** [upper bound in seconds, calls] pairs, ascending */
const histogram = { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } } as const;

const reportSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['running', 'completed'] },
    createdAt: { type: 'string' },
    completedAt: { type: ['string', 'null'] },
    to: { type: 'string' },
    providerIds: { type: 'array', items: { type: 'string' } },
    calls: { type: 'integer' },
    concurrency: { type: 'integer' },
    hangUpAfterMs: { type: 'integer' },
    progress: { type: 'object', properties: { placed: { type: 'integer' }, finished: { type: 'integer' }, total: { type: 'integer' } } },
    report: {
      type: 'array',
      items: {
        ...providerFiguresSchema,
        properties: {
          ...providerFiguresSchema.properties,
          placed: { type: 'integer' },
          finished: { type: 'integer' },
          error: { type: 'string' },
          cost: callsCostSchema,
          distributions: {
            type: 'object',
            properties: { setupToRinging: histogram, setupToAnswer: histogram },
          },
        },
      },
    },
  },
} as const;

export function trialRoutes(deps: AppDeps) {
  const { trials } = deps;
  return async (app: FastifyInstance) => {

    app.post<{ Body: TrialSpec }>(
      '/v1/trials',
      {
        schema: {
          summary: 'Start a trial: `calls` test calls through each provider, `concurrency` at a time',
          body: trialBody,
          response: withErrors({ 202: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } }, 403, 404, 422),
        },
      },
      async (req, reply) => reply.code(202).send(await trials.start(orgOf(req), req.body, actorOf(req))),
    );

    app.get<{ Params: { id: string } }>(
      '/v1/trials/:id',
      { schema: { params: idParam('id'), response: withErrors({ 200: reportSchema }, 404) } },
      async (req) => trials.get(orgOf(req), req.params.id),
    );
  };
}
