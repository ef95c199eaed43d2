// Rate tables (PUT|GET|DELETE /v1/providers/{id}/rates, JSON or CSV) and what calls cost per
// provider over a window with the what-if re-pricing (GET /v1/providers/costs).
import type { FastifyInstance } from 'fastify';
import { parseWindow } from '../../costs/cost-service.js';
import { parseRateCsv, parseRateJson, rateCsv, type RateTable } from '../../costs/rates.js';
import { DomainError } from '../../domain/errors.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { idParam, withErrors } from '../schemas.js';

/** a rate table of MAX_RATE_ROWS rows as CSV is about 3 MB */
const RATES_BODY_LIMIT = 16 * 1024 * 1024;
const money = { type: 'object', properties: { amount: { type: 'number' }, currency: { type: 'string' } } } as const;
/** a sum that may span currencies (a provider's price beside its table's): the largest, the others listed */
export const totalSchema = { oneOf: [{ type: 'null' }, { type: 'object', properties: { ...money.properties, others: { type: 'array', items: money } } }] } as const;
/** CallsCost (src/costs/cost-service.ts): a trial provider's calls priced one by one */
export const callsCostSchema = {
  type: 'object',
  properties: { calls: { type: 'integer' }, billedMinutes: { type: 'number' }, total: totalSchema, perCall: totalSchema, unpriced: { type: 'integer' } },
} as const;
const rateTableSchema = {
  type: 'object',
  properties: {
    currency: { type: 'string' },
    rates: {
      type: 'array',
      items: {
        type: 'object',
        properties: { prefix: { type: 'string' }, perMinute: { type: 'number' }, increment: { type: 'number' }, minimum: { type: 'number' }, connectFee: { type: 'number' } },
      },
    },
  },
} as const;

type IdParams = { id: string };

export function costRoutes(deps: AppDeps) {
  const { costs, audit } = deps;
  return async (app: FastifyInstance) => {
    // CSV bodies here only (the rest of /v1 takes JSON)
    app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: RATES_BODY_LIMIT }, (_req, body, done) => done(null, body));

    app.put<{ Params: IdParams; Querystring: { currency?: string }; Body: unknown }>(
      '/v1/providers/:id/rates',
      {
        bodyLimit: RATES_BODY_LIMIT,
        schema: {
          summary: "Replace a provider's rate table: JSON {currency, rates} or text/csv (header prefix,perMinute,increment,minimum,connectFee; ?currency=)",
          params: idParam('id'),
          querystring: { type: 'object', additionalProperties: false, properties: { currency: { type: 'string', maxLength: 8 } } },
          response: withErrors({ 200: { type: 'object', properties: { currency: { type: 'string' }, rows: { type: 'integer' } } } }, 404, 413, 415),
        },
      },
      async (req) => {
        const orgId = orgOf(req);
        // every row is checked before anything is stored: a bad line leaves the old table as it was
        let table: RateTable;
        if (typeof req.body === 'string') table = parseRateCsv(req.body, req.query.currency);
        else if (req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
          if (req.query.currency !== undefined) throw new DomainError('validation_failed', 'the currency goes in the JSON body');
          table = parseRateJson(req.body as { currency?: unknown; rates?: unknown });
        } else throw new DomainError('validation_failed', 'send {currency, rates} as JSON, or CSV as text/csv');
        await costs.putRates(orgId, req.params.id, table);
        await audit.append(orgId, { actor: actorOf(req), action: 'provider.rates.update', target: { type: 'provider', id: req.params.id }, after: { currency: table.currency, rows: table.rates.length } });
        return { currency: table.currency, rows: table.rates.length };
      },
    );

    app.get<{ Params: IdParams }>(
      '/v1/providers/:id/rates',
      { schema: { summary: "A provider's rate table (CSV with Accept: text/csv)", params: idParam('id'), response: withErrors({ 200: rateTableSchema }, 404) } },
      async (req, reply) => {
        const table = await costs.getRates(orgOf(req), req.params.id);
        if (/\btext\/csv\b/.test(String(req.headers.accept ?? ''))) {
          return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="rates-${req.params.id}-${table.currency}.csv"`).serializer((x: unknown) => String(x)).send(rateCsv(table));
        }
        return table;
      },
    );

    app.delete<{ Params: IdParams }>(
      '/v1/providers/:id/rates',
      { schema: { params: idParam('id'), response: withErrors({ 204: { type: 'null' } }, 404) } },
      async (req, reply) => {
        const orgId = orgOf(req);
        await costs.deleteRates(orgId, req.params.id);
        await audit.append(orgId, { actor: actorOf(req), action: 'provider.rates.delete', target: { type: 'provider', id: req.params.id } });
        return reply.code(204).send();
      },
    );

    app.get<{ Querystring: { window: string } }>(
      '/v1/providers/costs',
      {
        schema: {
          summary: "Per provider over the window: calls, billed minutes, cost; and every installed provider's table applied to the same calls (whatIf), also per destination country",
          querystring: { type: 'object', additionalProperties: false, properties: { window: { type: 'string', default: '24h', maxLength: 16 } } },
          response: withErrors(
            {
              200: {
                type: 'object',
                properties: {
                  window: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' } } },
                  providers: {
                    type: 'object',
                    additionalProperties: {
                      type: 'object',
                      properties: {
                        calls: { type: 'integer' },
                        billedMinutes: { type: 'number' },
                        cost: totalSchema,
                        unpriced: { type: 'integer' },
                      },
                    },
                  },
                  whatIf: { type: 'object', additionalProperties: { type: 'object', properties: { ...money.properties, unpriced: { type: 'integer' } } } },
                  byCountry: { type: 'object', additionalProperties: { type: 'object', properties: { calls: { type: 'integer' }, whatIf: { type: 'object', additionalProperties: money } } } },
                  truncated: { type: 'boolean' },
                },
              },
            },
          ),
        },
      },
      async (req) => costs.report(orgOf(req), parseWindow(req.query.window)),
    );
  };
}
