// The do-not-call list: PUT /v1/dnc (JSON {add, remove}, or a text/CSV body of numbers to add,
// one per line), GET /v1/dnc (how many), GET /v1/dnc/{number}.
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import type { DncChange } from '../../policy/dnc.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { COUNTRY, withErrors } from '../schemas.js';

/** 100,000 numbers are about 1.3 MB; a million about 13 MB */
export const DNC_BODY_LIMIT = 32 * 1024 * 1024;
const MAX_NUMBERS = 1_000_000;

const resultSchema = {
  type: 'object',
  properties: {
    added: { type: 'integer' },
    removed: { type: 'integer' },
    total: { type: 'integer' },
    invalidCount: { type: 'integer' },
    invalid: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, value: { type: 'string' }, list: { type: 'string' } } } },
  },
} as const;

export function dncRoutes(deps: AppDeps) {
  const { dnc, audit } = deps;
  return async (app: FastifyInstance) => {
    app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string', bodyLimit: DNC_BODY_LIMIT }, (_req, body, done) => done(null, body));

    app.put<{ Body: DncChange | string; Querystring: { region?: string } }>(
      '/v1/dnc',
      {
        bodyLimit: DNC_BODY_LIMIT,
        schema: {
          summary: 'Change the do-not-call list: JSON {add, remove} or a text/CSV body of numbers to add (one per line); bad lines are listed, the good ones applied',
          querystring: { type: 'object', additionalProperties: false, properties: { region: COUNTRY } },
          body: {
            oneOf: [
              { type: 'string' },
              {
                type: 'object',
                additionalProperties: false,
                minProperties: 1,
                properties: {
                  add: { type: 'array', maxItems: MAX_NUMBERS, items: { type: 'string', maxLength: 64 } },
                  remove: { type: 'array', maxItems: MAX_NUMBERS, items: { type: 'string', maxLength: 64 } },
                  region: COUNTRY,
                },
              },
            ],
          },
          response: withErrors({ 200: resultSchema }, 400, 413, 415),
        },
      },
      async (req) => {
        const orgId = orgOf(req);
        const region = req.query.region;
        const r = typeof req.body === 'string' ? await dnc.upload(orgId, req.body, region) : await dnc.change(orgId, { ...req.body, ...(region && !req.body.region ? { region } : {}) });
        // the audit log records changes: a repeat of numbers already listed changed nothing
        if (r.added + r.removed > 0) await audit.append(orgId, { actor: actorOf(req), action: 'dnc.update', target: { type: 'org', id: orgId }, after: { added: r.added, removed: r.removed, invalid: r.invalidCount, total: r.total } });
        return r;
      },
    );

    app.get('/v1/dnc', { schema: { response: withErrors({ 200: { type: 'object', properties: { total: { type: 'integer' } } } }) } }, async (req) => ({ total: await dnc.count(orgOf(req)) }));

    app.get<{ Params: { number: string }; Querystring: { region?: string } }>(
      '/v1/dnc/:number',
      {
        schema: {
          params: { type: 'object', required: ['number'], properties: { number: { type: 'string', minLength: 1, maxLength: 64 } } },
          querystring: { type: 'object', additionalProperties: false, properties: { region: COUNTRY } },
          response: withErrors({ 200: { type: 'object', properties: { number: { type: 'string' }, listed: { type: 'boolean' } } } }, 422),
        },
      },
      async (req) => {
        const r = await dnc.check(orgOf(req), req.params.number, req.query.region);
        if (!r) throw new DomainError('invalid_number', `"${req.params.number}" is not a valid phone number`);
        return r;
      },
    );
  };
}
