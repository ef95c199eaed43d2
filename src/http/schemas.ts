// JSON Schemas shared by the routes (request validation and response serialisation) and
// published at /openapi.json. Route-specific schemas live next to their route.

import type { FastifyReply } from 'fastify';
import { CALL_STATUSES } from '../domain/types.js';

/** Writes the one error shape, {error: {code, message, ...details}}, with its status. */
export function sendError(reply: FastifyReply, status: number, code: string, message: string, extra?: Record<string, unknown>): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message, ...(extra ?? {}) } });
}

export const ID_PATTERN = '^[A-Za-z0-9._@-]{1,128}$';
export const E164_LIKE = { type: 'string', minLength: 1, maxLength: 64 } as const;
export const COUNTRY = { type: 'string', pattern: '^[A-Z]{2}$' } as const;

export const idParam = (name: string) =>
  ({
    type: 'object',
    required: [name],
    additionalProperties: false,
    properties: { [name]: { type: 'string', pattern: ID_PATTERN } },
  }) as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: true,
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const errorRef = { $ref: 'Error#' };
/** The error responses every route may give, merged into each route's response map. */
export function withErrors(ok: Record<string, unknown>, ...codes: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ok };
  for (const c of [400, 401, 403, ...codes]) out[String(c)] = errorRef;
  return out;
}

export const regionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allow: { type: 'array', maxItems: 300, items: COUNTRY },
    deny: { type: 'array', maxItems: 300, items: COUNTRY },
  },
} as const;

const listRule = (item: Record<string, unknown>) =>
  ({
    type: 'object',
    additionalProperties: false,
    properties: { allow: { type: 'array', maxItems: 500, items: item }, deny: { type: 'array', maxItems: 500, items: item } },
  }) as const;

export const NUMBER_TYPE_NAMES = ['MOBILE', 'FIXED_LINE', 'FIXED_LINE_OR_MOBILE', 'TOLL_FREE', 'PREMIUM_RATE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL', 'UNKNOWN'];

export const dialPolicySchema = {
  $id: 'DialPolicy',
  type: 'object',
  additionalProperties: false,
  properties: {
    countries: listRule(COUNTRY),
    numberTypes: listRule({ type: 'string', enum: NUMBER_TYPE_NAMES }),
    prefixes: listRule({ type: 'string', pattern: '^\\+?[0-9]{1,15}$' }),
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        perUserPerMinute: { type: 'integer', minimum: 1, maximum: 100_000 },
        perOrgPerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        perDestinationPerHour: { type: 'integer', minimum: 1, maximum: 100_000 },
        liveCallsPerUser: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
    // in the callee's local time; end before start runs across midnight (the days name the
    // day a window starts); end equal to start is refused (src/policy/calling-hours.ts)
    callingHours: {
      type: 'object',
      required: ['start', 'end'],
      additionalProperties: false,
      properties: {
        start: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
        end: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$' },
        days: { type: 'array', minItems: 1, maxItems: 7, uniqueItems: true, items: { type: 'integer', minimum: 1, maximum: 7 } },
      },
    },
  },
} as const;

export const userSchema = {
  $id: 'User',
  type: 'object',
  required: ['id', 'region', 'providerId'],
  properties: {
    id: { type: 'string' },
    region: { type: 'string' },
    name: { type: 'string' },
    email: { type: 'string' },
    phone: { type: 'string' },
    sipUri: { type: 'string' },
    numbers: { type: 'array', items: { type: 'string' } },
    crmUserId: { type: 'string' },
    ringTimeoutSec: { type: 'integer' },
    dialPolicy: { $ref: 'DialPolicy#' },
    providerId: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const conflictsSchema = {
  $id: 'AssignResult',
  type: 'object',
  required: ['assigned', 'conflicts'],
  properties: {
    assigned: { type: 'array', items: { type: 'string' } },
    conflicts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['userId', 'reason'],
        properties: {
          userId: { type: 'string' },
          providerId: { type: 'string' },
          reason: { type: 'string', enum: ['assigned_elsewhere', 'region_unavailable', 'unknown_user'] },
        },
      },
    },
  },
} as const;

export const providerSchema = {
  $id: 'Provider',
  type: 'object',
  required: ['id', 'kind', 'name', 'regions', 'priority', 'scope', 'futureUsers', 'userCount', 'config'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    name: { type: 'string' },
    regions: regionsSchema,
    priority: { type: 'integer' },
    scope: { type: 'string', enum: ['all', 'specific'] },
    futureUsers: { type: 'boolean' },
    userCount: { type: 'integer' },
    // kind-specific, secrets already redacted
    config: { type: 'object', additionalProperties: true },
    details: { type: 'object', additionalProperties: true },
    health: { type: 'object', additionalProperties: true },
    install: { $ref: 'AssignResult#' },
    dialPolicy: { $ref: 'DialPolicy#' },
    callsPerSecond: { type: 'number' },
    callerIdPool: { type: 'array', items: { type: 'string' } },
    recording: { type: 'string', enum: ['off', 'on'] },
    voicemail: { type: 'string', enum: ['off', 'on'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const callSchema = {
  $id: 'Call',
  type: 'object',
  required: ['id', 'userId', 'providerId', 'direction', 'to', 'status', 'createdAt'],
  properties: {
    id: { type: 'string' },
    userId: { type: 'string' },
    providerId: { type: 'string' },
    providerKind: { type: 'string' },
    direction: { type: 'string', enum: ['outbound', 'inbound'] },
    from: { type: 'string' },
    to: { type: 'string' },
    status: { type: 'string', enum: [...CALL_STATUSES] },
    providerCallId: { type: 'string' },
    crmRecord: { type: 'object', properties: { module: { type: 'string' }, id: { type: 'string' } } },
    failedOverFrom: { type: 'string' },
    callerId: { type: 'string' },
    providerPrice: { type: 'object', properties: { amount: { type: 'number' }, currency: { type: 'string' } } },
    cost: {
      type: 'object',
      required: ['amount', 'currency', 'source'],
      properties: { amount: { type: 'number' }, currency: { type: 'string' }, source: { type: 'string', enum: ['rates', 'provider'] } },
    },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    answeredAt: { type: 'string' },
    endedAt: { type: 'string' },
    durationSec: { type: 'number' },
    trial: { type: 'boolean' },
    trialId: { type: 'string' },
    history: {
      type: 'array',
      items: {
        type: 'object',
        required: ['status', 'at'],
        properties: { status: { type: 'string' }, at: { type: 'string' }, cause: { type: 'string' } },
      },
    },
    crmLog: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: ['pending', 'logged', 'failed', 'skipped'] },
        recordId: { type: 'string' },
        attempts: { type: 'integer' },
        lastError: { type: 'string' },
        covers: {
          type: 'object',
          description: 'per change group (notes, record, recording, voicemail): the changes the first log already carried; their updates send nothing',
          additionalProperties: { type: 'integer' },
        },
      },
    },
    disposition: { type: 'string' },
    notes: { type: 'string' },
    subject: { type: 'string' },
    recording: { $ref: 'Media#' },
    voicemail: { $ref: 'Media#' },
    missed: { type: 'boolean' },
    match: { anyOf: [{ $ref: 'CrmCandidate#' }, { type: 'null' }] },
    candidates: { type: 'array', items: { $ref: 'CrmCandidate#' } },
  },
} as const;

export const mediaSchema = {
  $id: 'Media',
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['pending', 'available', 'absent', 'failed'] },
    durationSec: { type: 'number' },
    url: { type: 'string' },
  },
} as const;

export const crmCandidateSchema = {
  $id: 'CrmCandidate',
  type: 'object',
  required: ['module', 'id'],
  properties: { module: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, url: { type: 'string' } },
} as const;

export const pageOf = (ref: string) =>
  ({
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: {
      items: { type: 'array', items: { $ref: `${ref}#` } },
      nextCursor: { type: ['string', 'null'] },
    },
  }) as const;

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  cursor: { type: 'string', maxLength: 512 },
} as const;

export const sharedSchemas = [dialPolicySchema, errorSchema, userSchema, conflictsSchema, providerSchema, mediaSchema, crmCandidateSchema, callSchema];
