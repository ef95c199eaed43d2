// /openapi.json: an OpenAPI 3.1 document (its schemas are JSON Schema 2020-12, so `type: [.., 'null']`
// and a numeric exclusiveMinimum are what they say) describing every route: the /v1 API, the
// WebSocket upgrade of /v1/events, the provider and CRM webhooks and the ops routes (not the console's files).
// Each route's security follows its access declaration (src/http/access.ts).

import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { RouteAccess } from './access.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** responses described in the document only (routes answering in formats fastify does not serialise: TwiML, HTML, metrics) */
    docResponses?: Record<string, unknown>;
  }
}

/** A documented non-JSON response. */
export const textResponse = (description: string, mediaType = 'text/plain'): Record<string, unknown> => ({ description, content: { [mediaType]: { schema: { type: 'string' } } } });

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'dialgate', version: '1.0.0', description: 'Multi-provider telephony gateway for CRMs' },
      components: {
        securitySchemes: {
          orgKey: { type: 'http', scheme: 'bearer', description: 'an org API key (dgk_..., scope admin or read) or, where a route says so, an agent token (dga_...)' },
          operatorToken: { type: 'http', scheme: 'bearer', description: 'the operator token (DIALGATE_ADMIN_TOKEN)' },
        },
      },
      security: [{ orgKey: [] }],
    },
    // shared schemas keep their names (Error, User, Provider...) for clients generated from the document
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const auth = (route.config as { auth?: RouteAccess } | undefined)?.auth;
      const doc = (route.config as { docResponses?: Record<string, unknown> } | undefined)?.docResponses;
      const out: Record<string, unknown> = { ...(schema ?? {}) };
      if (auth?.public) out.security = [];
      else if (auth?.operator) out.security = [{ operatorToken: [] }];
      if (doc) out.response = doc;
      // a trailing wildcard becomes a named path parameter
      if (!url.endsWith('*')) return { schema: out, url };
      const params = (out.params ?? { type: 'object', properties: {} }) as { properties?: Record<string, unknown>; required?: string[] };
      const { '*': rest, ...named } = params.properties ?? {};
      out.params = { ...params, properties: { ...named, path: { ...(rest as object), type: 'string', description: 'the rest of the path' } }, required: [...(params.required ?? []).filter((n) => n !== '*'), 'path'] };
      return { schema: out, url: `${url.slice(0, -1)}:path` };
    },
  });
}
