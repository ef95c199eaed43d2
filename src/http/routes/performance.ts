// GET /v1/providers/performance?window=5m|1h|24h: the live figures of every provider of the org,
// side by side (seconds). A static path, so fastify's router prefers it to /v1/providers/:id.
import type { FastifyInstance } from 'fastify';
import { PERF_WINDOWS, type PerfWindow } from '../../store/perf/port.js';
import type { AppDeps } from '../deps.js';
import { orgOf } from '../access.js';
import { withErrors } from '../schemas.js';

const nullableNumber = { type: ['number', 'null'] } as const;
const percentiles = { type: 'object', required: ['p50', 'p95'], properties: { p50: nullableNumber, p95: nullableNumber } } as const;

/** The figures of one provider, as the performance API and trial reports return them. */
export const providerFiguresSchema = {
  type: 'object',
  required: ['providerId', 'attempts', 'answered', 'answerRatio', 'setupToRinging', 'setupToAnswer', 'apiLatency', 'failures', 'probes'],
  properties: {
    providerId: { type: 'string' },
    kind: { type: 'string' },
    name: { type: 'string' },
    attempts: { type: 'integer' },
    answered: { type: 'integer' },
    answerRatio: nullableNumber,
    setupToRinging: percentiles,
    setupToAnswer: percentiles,
    apiLatency: percentiles,
    failures: { type: 'object', additionalProperties: { type: 'integer' } },
    // active health probes in the window (src/providers/prober.ts): how many, and how many failed
    probes: { type: 'object', required: ['ok', 'failed'], properties: { ok: { type: 'integer' }, failed: { type: 'integer' } } },
  },
} as const;

export function performanceRoutes(deps: AppDeps) {
  const { perf } = deps;
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: { window: PerfWindow } }>(
      '/v1/providers/performance',
      {
        schema: {
          summary: 'Live per-provider figures over a rolling window (seconds; percentiles within ±4.4 %)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { window: { type: 'string', enum: [...PERF_WINDOWS], default: '1h' } },
          },
          response: withErrors({
            200: {
              type: 'object',
              required: ['window', 'items'],
              properties: { window: { type: 'string' }, items: { type: 'array', items: providerFiguresSchema } },
            },
          }),
        },
      },
      async (req) => ({ window: req.query.window, items: await perf.performance(orgOf(req), req.query.window) }),
    );
  };
}
