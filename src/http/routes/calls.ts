// Calls: POST /v1/calls (click-to-call, Idempotency-Key), GET /v1/calls/{id}, GET /v1/calls,
// DELETE /v1/calls/{id} (hang up or cancel).
import type { FastifyInstance } from 'fastify';
import type { ClickToCallInput } from '../../calls/dispatch.js';
import { toPublicCall } from '../../domain/types.js';
import { CALL_STATUSES, type CallStatus } from '../../domain/types.js';
import { actorOf, orgOf, requireOrgKey, type AppDeps } from '../app.js';
import { ID_PATTERN, idParam, pageOf, pageQuery, withErrors } from '../schemas.js';

const callRef = { $ref: 'Call#' };

export function callRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.addHook('onRequest', requireOrgKey(deps.keys));

    app.post<{ Body: ClickToCallInput }>(
      '/v1/calls',
      {
        schema: {
          summary: "Click-to-call: ring the user's phone through their provider, then the customer",
          headers: {
            type: 'object',
            properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' } },
          },
          body: {
            type: 'object',
            required: ['userId', 'to'],
            additionalProperties: false,
            properties: {
              userId: { type: 'string', pattern: ID_PATTERN },
              to: { type: 'string', minLength: 1, maxLength: 64 },
              crmRecord: {
                type: 'object',
                required: ['module', 'id'],
                additionalProperties: false,
                properties: { module: { type: 'string', minLength: 1, maxLength: 64, pattern: ID_PATTERN }, id: { type: 'string', minLength: 1, maxLength: 128, pattern: ID_PATTERN } },
              },
            },
          },
          response: withErrors({ 201: callRef }, 403, 404, 409, 422, 429, 502, 503),
        },
      },
      async (req, reply) => {
        const key = req.headers['idempotency-key'];
        const { call, replayed } = await deps.dispatcher.clickToCall(orgOf(req), req.body, typeof key === 'string' ? key : undefined, actorOf(req));
        if (replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).send(toPublicCall(call));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/v1/calls/:id',
      { schema: { params: idParam('id'), response: withErrors({ 200: callRef }, 404) } },
      async (req) => deps.calls.get(orgOf(req), req.params.id),
    );

    app.get<{ Querystring: { userId?: string; status?: CallStatus; limit: number; cursor?: string } }>(
      '/v1/calls',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { ...pageQuery, userId: { type: 'string', pattern: ID_PATTERN }, status: { type: 'string', enum: [...CALL_STATUSES] } },
          },
          response: withErrors({ 200: pageOf('Call') }),
        },
      },
      async (req) => deps.calls.list(orgOf(req), req.query),
    );

    app.delete<{ Params: { id: string } }>(
      '/v1/calls/:id',
      {
        schema: {
          params: idParam('id'),
          response: withErrors({ 202: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' } } } }, 404, 409, 502, 503),
        },
      },
      async (req, reply) => {
        const orgId = orgOf(req);
        await deps.reconciler.hangUp(orgId, req.params.id, false);
        return reply.code(202).send({ id: req.params.id, status: 'hangup_requested' });
      },
    );

    app.post<{ Params: { id: string } }>(
      '/v1/calls/:id/end',
      {
        schema: {
          summary: 'End a live call at once (admin): hung up at its provider if it can be, and ended here whatever the provider says',
          params: idParam('id'),
          response: withErrors({ 200: { $ref: 'Call#' } }, 404, 409),
        },
      },
      async (req) => toPublicCall(await deps.reconciler.hangUp(orgOf(req), req.params.id, true)),
    );

  };
}
