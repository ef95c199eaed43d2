// Calls: POST /v1/calls (click-to-call, Idempotency-Key), GET /v1/calls/{id}, GET /v1/calls,
// DELETE /v1/calls/{id} (hang up or cancel), PATCH /v1/calls/{id} (wrap-up). Agent tokens place
// their user's calls and read, hang up and wrap up their user's calls (src/http/access.ts).
import type { FastifyInstance } from 'fastify';
import type { WrapupInput } from '../../calls/call-updates.js';
import type { ClickToCallInput } from '../../calls/dispatch.js';
import { WRAPUP_LIMITS } from '../../domain/call-updates.js';
import { toPublicCall } from '../../domain/types.js';
import { CALL_STATUSES, type CallStatus } from '../../domain/types.js';
import type { AppDeps } from '../deps.js';
import { actorOf, orgOf } from '../access.js';
import { ID_PATTERN, idParam, pageOf, pageQuery, withErrors } from '../schemas.js';

const callRef = { $ref: 'Call#' };
const crmRecordSchema = {
  type: 'object',
  required: ['module', 'id'],
  additionalProperties: false,
  properties: { module: { type: 'string', minLength: 1, maxLength: 64, pattern: ID_PATTERN }, id: { type: 'string', minLength: 1, maxLength: 128, pattern: ID_PATTERN } },
} as const;

export function callRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {

    app.post<{ Body: ClickToCallInput }>(
      '/v1/calls',
      {
        config: { auth: { agents: 'self' } },
        schema: {
          summary: "Click-to-call: ring the user's phone through their provider, then the customer",
          description: 'With an agent token, `userId` may be left out (the token\'s user) and any other user is refused with 403.',
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
              crmRecord: crmRecordSchema,
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
      { config: { auth: { agents: 'ownCall' } }, schema: { params: idParam('id'), response: withErrors({ 200: callRef }, 404) } },
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

    app.patch<{ Params: { id: string }; Body: WrapupInput }>(
      '/v1/calls/:id',
      {
        config: { auth: { agents: 'ownCall' } },
        schema: {
          summary: "The call's wrap-up: disposition, notes, subject, the CRM record (while live and DIALGATE_WRAPUP_SEC after the end)",
          description:
            'An org admin key, or the agent token of the call\'s user. Changed values after the call was logged reach the CRM as one update per change (webhook CRM: call.log.updated, Idempotency-Key <callId>:<group>:<n>); the same values again send nothing. 404 for an unknown call or another org\'s; 409 wrapup_closed once DIALGATE_WRAPUP_SEC have passed since the end.',
          params: idParam('id'),
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              disposition: { type: 'string', maxLength: WRAPUP_LIMITS.disposition },
              notes: { type: 'string', maxLength: WRAPUP_LIMITS.notes },
              subject: { type: 'string', maxLength: WRAPUP_LIMITS.subject },
              crmRecord: crmRecordSchema,
            },
          },
          response: withErrors({ 200: callRef }, 404, 409),
        },
      },
      async (req) => toPublicCall(await deps.callUpdates.wrapup(orgOf(req), req.params.id, req.body)),
    );

    app.delete<{ Params: { id: string } }>(
      '/v1/calls/:id',
      {
        config: { auth: { agents: 'ownCall' } },
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
