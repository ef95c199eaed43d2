// Who may call a route, declared on the route and checked here, once, for every route:
//
//   config: { auth: { scope: 'read' | 'admin', agents: 'self' | 'ownCall' } }
//   config: { auth: { public: true } }     no credential (ops, console files, webhooks: their own auth)
//   config: { auth: { operator: true } }   the operator token (POST /v1/orgs)
//
// By default a route takes an org API key: scope read for GET/HEAD, admin for everything else;
// an admin key does everything a read key does. Agent tokens are refused (403 forbidden) unless
// the route names how a request is tied to the agent's user:
//   'self'    the request's `userId` (body or query) is the agent's own: omitted, it is filled in;
//             another user's is refused with 403
//   'ownCall' the `:id` path parameter is a call of the agent's user; another user's call answers
//             404, exactly like a call that does not exist

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearer, operatorTokenMatches, type ApiKeyVerifier, type Principal } from '../auth/api-keys.js';
import { DomainError } from '../domain/errors.js';
import type { CallQueries } from '../calls/call-queries.js';

export type AgentRule = 'self' | 'ownCall';

export interface RouteAccess {
  public?: true;
  operator?: true;
  /** the least key scope; default read for GET/HEAD, admin otherwise */
  scope?: 'read' | 'admin';
  /** agent tokens are accepted, tied to their user by this rule */
  agents?: AgentRule;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAccess;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const PUBLIC: { auth: RouteAccess } = { auth: { public: true } };

const READS = new Set(['GET', 'HEAD']);

export function unauthorized(): DomainError {
  return new DomainError('unauthorized', 'a valid org API key or agent token is required (Authorization: Bearer dgk_... or dga_...)');
}

/**
 * Whether an agent token may act for `userId` (absent: its own user). The one rule shared by the
 * HTTP routes and the events socket.
 */
export function agentMayActFor(principal: Principal, userId: string | null | undefined): boolean {
  return principal.scope !== 'agent' || userId === undefined || userId === null || userId === principal.userId;
}

function forbiddenForAgents(): DomainError {
  return new DomainError('forbidden', "an agent token may only open its user's events, place its user's calls and manage them");
}

/** Adds the access check to every route of the app (register before the routes). */
export function accessControl(app: FastifyInstance, deps: { keys: ApiKeyVerifier; adminToken: string; calls: Pick<CallQueries, 'get'> }): void {
  app.addHook('onRequest', async (req) => {
    // an unknown route answers 404 whoever asks
    if (req.is404) return;
    const access = req.routeOptions.config?.auth ?? {};
    if (access.public) return;
    if (access.operator) {
      if (!operatorTokenMatches(bearer(req.headers.authorization), deps.adminToken)) throw new DomainError('unauthorized', 'the operator token is required');
      return;
    }
    const principal = await deps.keys.verify(bearer(req.headers.authorization));
    if (!principal) throw unauthorized();
    req.principal = principal;
    if (principal.scope === 'agent') {
      if (!access.agents) throw forbiddenForAgents();
      return;
    }
    const needed = access.scope ?? (READS.has(req.method) ? 'read' : 'admin');
    if (needed === 'admin' && principal.scope !== 'admin') throw new DomainError('forbidden', 'this API key may only read (scope "read"); an admin key is needed to change anything');
  });

  // before validation, so an agent may leave its own userId out of a body that requires one
  app.addHook('preValidation', async (req) => {
    const p = req.principal;
    if (p?.scope !== 'agent' || req.routeOptions.config?.auth?.agents !== 'self') return;
    for (const part of [req.body, req.query] as unknown[]) {
      if (!part || typeof part !== 'object' || Array.isArray(part)) continue;
      const holder = part as Record<string, unknown>;
      if (!agentMayActFor(p, holder.userId as string | undefined)) throw new DomainError('forbidden', 'an agent token acts for its own user only');
    }
    const target = (READS.has(req.method) ? req.query : req.body) as Record<string, unknown> | undefined;
    if (target && typeof target === 'object' && !Array.isArray(target) && target.userId === undefined) target.userId = p.userId;
  });

  // after validation: the call id is a valid id by then
  app.addHook('preHandler', async (req: FastifyRequest) => {
    const p = req.principal;
    if (p?.scope !== 'agent' || req.routeOptions.config?.auth?.agents !== 'ownCall') return;
    const callId = (req.params as { id?: string }).id ?? '';
    const call = await deps.calls.get(p.orgId, callId);
    if (call.userId !== p.userId) throw new DomainError('call_not_found', `call ${callId} not found`);
  });
}

/** Who made a change, for the audit log: the id (never the secret) of the key or token. */
export function actorOf(req: FastifyRequest): string {
  return req.principal?.keyId ?? 'unknown';
}

export function orgOf(req: FastifyRequest): string {
  if (!req.principal) throw unauthorized();
  return req.principal.orgId;
}
