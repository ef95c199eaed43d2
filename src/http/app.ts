// The HTTP application: fastify with schema validation on every route, one error shape
// ({error:{code,message}}), request ids in logs, request metrics, and the route plugins.

import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import type { Logger } from 'pino';
import type { ApiKeyVerifier } from '../auth/api-keys.js';
import type { CredentialService } from '../auth/credential-service.js';
import type { OrgService } from '../auth/org-service.js';
import type { CallQueries } from '../calls/call-queries.js';
import type { CallUpdates } from '../calls/call-updates.js';
import type { Recordings } from '../calls/recordings.js';
import { recordingRoutes } from './routes/recordings.js';
import type { Reconciler } from '../calls/reconciler.js';
import type { Dispatcher } from '../calls/dispatch.js';
import type { WebhookIngress } from '../calls/webhook-ingress.js';
import type { Config } from '../config/config.js';
import type { CrmService } from '../crm/crm-service.js';
import type { DirectoryService } from '../directory/directory-service.js';
import type { OrgConfigCache } from '../directory/org-config.js';
import { isDomainError } from '../domain/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PerfService } from '../perf/perf-service.js';
import type { EventBus } from '../store/events/port.js';
import type { AuditLog } from '../store/audit/port.js';
import type { TrialService } from '../trials/trial-service.js';
import { ProviderError } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import { sendError, sharedSchemas } from './schemas.js';
import { accessControl } from './access.js';
import { registerOpenApi } from './openapi.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { Router } from '../routing/router.js';
import { policyRoutes } from './routes/policy.js';
import { auditRoutes } from './routes/audit.js';
import { orgRoutes } from './routes/orgs.js';
import { userRoutes } from './routes/users.js';
import { providerRoutes } from './routes/providers.js';
import { callRoutes } from './routes/calls.js';
import { webhookRoutes } from './routes/webhooks.js';
import { opsRoutes } from './routes/ops.js';
import type { AppDeps } from './deps.js';
import { adminRoutes } from './routes/admin.js';
import { crmRoutes } from './routes/crm.js';
import { performanceRoutes } from './routes/performance.js';
import { trialRoutes } from './routes/trials.js';
import { costRoutes } from './routes/costs.js';
import { dncRoutes } from './routes/dnc.js';
import type { CostService } from '../costs/cost-service.js';
import type { DncService } from '../policy/dnc.js';
import { credentialRoutes } from './routes/credentials.js';
import { eventsRoutes } from './routes/events.js';
import { eventsSocket, type EventsSocketServer } from '../events/ws-server.js';


export interface BuiltApp {
  app: FastifyInstance;
  sockets: EventsSocketServer;
  /** From now on every response carries Connection: close (graceful shutdown, see Gateway.close). */
  drain(): void;
  /** From now on new requests get 503 shutting_down (in-flight ones finish). */
  refuse(): void;
  /** From now on /readyz answers 503 draining: the instance is going away. */
  startDraining(): void;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

// one Redis away, or a cluster master restarting or its slots moving past what retries cover
const STORE_DOWN = /Connection is closed|enableOfflineQueue|ECONNREFUSED|ECONNRESET|Command timed out|MaxRetriesPerRequest|Stream isn't writeable|Reached the max retries|connect ETIMEDOUT|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|All nodes failed/;


function validationMessage(err: FastifyError): string {
  const v = err.validation?.[0];
  if (!v) return err.message;
  const where = `${err.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
  if (v.keyword === 'additionalProperties') return `${where} has an unknown field "${(v.params as { additionalProperty?: string }).additionalProperty}"`;
  if (v.keyword === 'required') return `${where} is missing required field "${(v.params as { missingProperty?: string }).missingProperty}"`;
  return `${where} ${v.message}`;
}

/** Errors Node's HTTP parser raises before fastify sees a request (oversized headers, garbage). */
function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request took too long to arrive']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'the request headers are too large']
        : [400, 'bad_request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

export async function buildApp(deps: AppDeps): Promise<BuiltApp> {
  const { config, logger, metrics } = deps;
  const app: FastifyInstance = Fastify({
    loggerInstance: logger,
    bodyLimit: config.bodyLimit,
    // request ids: the caller's X-Request-Id when sane, else a fresh one; echoed back
    // the header is read here rather than by fastify's requestIdHeader, which takes any value
    // (3 KB, quotes, markup) into every log line and the echoed header
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && SANE_REQUEST_ID.test(h) ? h : randomUUID();
    },
    // refused during shutdown by the hook below, in the one error shape
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 256 },
    // errors raised before routing (an over-long path parameter, a malformed URL) get the one
    // error shape too, instead of fastify's own
    frameworkErrors: (err, req, reply) => {
      reply.header('x-request-id', req.id);
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 400, 'validation_failed', 'a path parameter is too long (ids are at most 128 characters)');
      if (err.code === 'FST_ERR_BAD_URL') return sendError(reply, 400, 'validation_failed', 'the URL is not valid');
      return sendError(reply, 500, 'internal', 'internal error; the request id is in the X-Request-Id header');
    },
    clientErrorHandler: clientError,
  }) as unknown as FastifyInstance;
  // /v1 takes JSON only: without this, fastify's built-in text/plain parser lets a text body
  // through to schema validation (400) instead of the 415 a wrong content type deserves
  app.removeContentTypeParser('text/plain');
  // An empty body sent with Content-Type: application/json (common on DELETE from HTTP clients)
  // is "no body", not an error; routes that need one still refuse it through their schema.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return jsonParser(req, text, done);
  });

  // Bodies are validated strictly (no coercion, unknown fields refused); query strings and
  // params are strings on the wire, so they are coerced.
  const bodyAjv = new Ajv({ allErrors: false, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false });
  const queryAjv = new Ajv({ allErrors: false, removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false });
  for (const s of sharedSchemas) {
    bodyAjv.addSchema(s);
    queryAjv.addSchema(s);
  }
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));
  for (const s of sharedSchemas) app.addSchema(s);

  await registerOpenApi(app);

  // while draining, clients are told to drop their keep-alive connection after each answer, so
  // the server can close every connection without resetting a request already on the wire; once
  // closing, new requests (on connections still open) are refused
  let draining = false;
  let closing = false;
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (closing) {
      reply.header('connection', 'close').header('retry-after', '1');
      return sendError(reply, 503, 'shutting_down', 'this gateway instance is shutting down; retry (another instance will answer)');
    }
  });
  // who may call each route: declared on the route (config.auth), checked once here
  accessControl(app, { keys: deps.keys, adminToken: config.adminToken, calls: deps.calls });
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: req.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route ${req.method} ${req.url.split('?')[0].slice(0, 200)}`));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return sendError(reply, 400, 'validation_failed', validationMessage(err));
    if (isDomainError(err)) {
      if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
      return sendError(reply, err.status, err.code, err.message, err.details);
    }
    if (err instanceof ProviderError) {
      const status = err.code === 'invalid_number' ? 422 : err.code === 'provider_unavailable' || err.code === 'rate_limited' ? 503 : 502;
      if (err.retryAfter) reply.header('retry-after', String(err.retryAfter));
      return sendError(reply, status, err.code === 'rate_limited' ? 'provider_unavailable' : err.code, err.message);
    }
    const code = err.code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, 'payload_too_large', `request body is larger than ${config.bodyLimit} bytes`);
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 415, 'unsupported_media_type', 'send application/json');
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return sendError(reply, 400, 'validation_failed', 'the JSON body is empty');
    if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return sendError(reply, 400, 'validation_failed', 'content-length does not match the body');
    if (err.statusCode === 400 && (err instanceof SyntaxError || /JSON/i.test(err.message))) {
      return sendError(reply, 400, 'validation_failed', 'the body is not valid JSON');
    }
    if (STORE_DOWN.test(err.message ?? '')) {
      req.log.warn({ err: err.message }, 'store unavailable');
      reply.header('retry-after', '1');
      return sendError(reply, 503, 'store_unavailable', 'the gateway cannot reach its store right now; retry shortly');
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, 'bad_request', err.message.slice(0, 300));
    }
    req.log.error({ err: { message: err.message, code: err.code, stack: err.stack } }, 'unhandled error');
    return sendError(reply, 500, 'internal', 'internal error; the request id is in the X-Request-Id header');
  });

  await app.register(opsRoutes(deps));
  await app.register(orgRoutes(deps));
  await app.register(userRoutes(deps));
  await app.register(providerRoutes(deps));
  await app.register(callRoutes(deps));
  await app.register(webhookRoutes(deps));
  await app.register(policyRoutes(deps));
  await app.register(auditRoutes(deps));
  await app.register(adminRoutes(deps));
  await app.register(crmRoutes(deps));
  await app.register(performanceRoutes(deps));
  await app.register(trialRoutes(deps));
  await app.register(costRoutes(deps));
  await app.register(dncRoutes(deps));
  await app.register(credentialRoutes(deps));
  await app.register(eventsRoutes(deps));
  await app.register(recordingRoutes(deps));

  const sockets = eventsSocket(app, { ...deps, snapshot: (orgId, userId) => deps.calls.live(orgId, userId) });
  return {
    app,
    sockets,
    drain: () => {
      draining = true;
    },
    refuse: () => {
      draining = true;
      closing = true;
    },
    startDraining: () => {
      deps.readiness.unshift({ name: 'draining', check: async () => ({ ok: false, detail: 'this instance is shutting down' }), draining: true });
    },
  };
}
