// Operations: liveness, readiness (every dependency the gateway needs answers), Prometheus
// metrics and the OpenAPI document.
import type { FastifyInstance } from 'fastify';
import type { AppDeps, ReadinessCheck } from '../deps.js';
import { PUBLIC } from '../access.js';
import { textResponse } from '../openapi.js';


const checkTimeoutMs = 1000;

async function runCheck(c: ReadinessCheck): Promise<{ name: string; ok: boolean; detail?: string }> {
  try {
    const r = await Promise.race([
      c.check(),
      new Promise<{ ok: boolean; detail: string }>((res) => setTimeout(() => res({ ok: false, detail: 'timed out' }), checkTimeoutMs).unref()),
    ]);
    return { name: c.name, ...r };
  } catch (e) {
    return { name: c.name, ok: false, detail: (e as Error).message.slice(0, 200) };
  }
}

export function opsRoutes(deps: AppDeps) {
  return async (app: FastifyInstance) => {
    app.get('/healthz', {
      schema: { tags: ['ops'], summary: 'Liveness: the process answers', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
      logLevel: 'warn',
      config: PUBLIC,
    }, async () => ({ status: 'ok' }));

    const readySchema = {
      type: 'object',
      properties: {
        status: { type: 'string' },
        checks: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, ok: { type: 'boolean' }, detail: { type: 'string' } } } },
      },
    };
    app.get('/readyz', { schema: { tags: ['ops'], summary: 'Readiness: every dependency answers (503 not_ready, or draining while shutting down)', response: { 200: readySchema, 503: readySchema } }, logLevel: 'warn', config: PUBLIC }, async (_req, reply) => {
      if (deps.readiness.some((c) => c.draining)) return reply.code(503).send({ status: 'draining', checks: [] });
      const checks = await Promise.all(deps.readiness.map(runCheck));
      const ok = checks.every((c) => c.ok);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
    });

    app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' }, logLevel: 'warn', config: { ...PUBLIC, docResponses: { 200: textResponse('Prometheus text exposition format') } } }, async (_req, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    });

    app.get('/openapi.json', { schema: { tags: ['ops'], summary: 'This document' }, config: { ...PUBLIC, docResponses: { 200: textResponse('the OpenAPI 3.1 document', 'application/json') } } }, async () => app.swagger());
  };
}
