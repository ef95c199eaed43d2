// /openapi.json is a valid OpenAPI document (checked by an independent validator,
// @seriousme/openapi-schema-validator) that describes every route the gateway serves: the /v1
// API, the WebSocket upgrade of /v1/events, the provider and CRM webhooks and the ops routes (the
// console's files are not API and stay out); public routes say they need no credential.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

describe('/openapi.json', () => {
  let gw: TestGateway;
  let doc: any;
  before(async () => {
    gw = await startGateway({ store: 'memory' });
    const r = await gw.req('GET', '/openapi.json');
    assert.equal(r.status, 200);
    doc = r.body;
  });
  after(() => gw?.close());

  test('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const res = await new Validator().validate(doc);
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1)?.slice(0, 3000));
  });

  test('every documented operation is a route of the gateway, and every route is documented', () => {
    const documented: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const m of METHODS.filter((x) => item[x])) {
        documented.push(`${m.toUpperCase()} ${path}`);
        const url = path.replace(/\{path\}$/, '*').replace(/\{([^}]+)\}/g, ':$1');
        assert.ok(gw.gw.app.hasRoute({ method: m.toUpperCase() as 'GET', url }), `${m.toUpperCase()} ${path} is served`);
      }
    }
    // fastify-swagger documents every route not hidden: the list below is every route the gateway
    // serves (HEAD and the console's files aside); a new route is added here, with its schema, summary and access
    const expected = [
      'POST /v1/orgs', 'GET /v1/api-keys', 'POST /v1/api-keys', 'DELETE /v1/api-keys/{id}', 'POST /v1/agent-tokens', 'DELETE /v1/agent-tokens/{id}',
      'GET /v1/users', 'PUT /v1/users/{id}', 'GET /v1/users/{id}', 'DELETE /v1/users/{id}', 'POST /v1/users/{id}/move',
      'POST /v1/providers', 'GET /v1/providers', 'GET /v1/providers/{id}', 'PATCH /v1/providers/{id}', 'DELETE /v1/providers/{id}',
      'GET /v1/providers/{id}/users', 'POST /v1/providers/{id}/users', 'DELETE /v1/providers/{id}/users/{userId}', 'POST /v1/providers/{id}/install-all',
      'GET /v1/providers/performance', 'POST /v1/calls', 'GET /v1/calls', 'GET /v1/calls/{id}', 'DELETE /v1/calls/{id}', 'GET /v1/events',
      'GET /v1/dial-policy', 'PUT /v1/dial-policy', 'GET /v1/routing/policy', 'PUT /v1/routing/policy', 'GET /v1/routing/explain', 'GET /v1/audit',
      'PUT /v1/crm', 'GET /v1/crm', 'GET /v1/crm/failed', 'POST /v1/crm/failed/{callId}/retry', 'POST /v1/trials', 'GET /v1/trials/{id}',
      'PUT /v1/providers/{id}/rates', 'GET /v1/providers/{id}/rates', 'DELETE /v1/providers/{id}/rates', 'GET /v1/providers/costs',
      'PUT /v1/dnc', 'GET /v1/dnc', 'GET /v1/dnc/{number}',
      'PATCH /v1/calls/{id}', 'POST /v1/calls/{id}/end', 'POST /v1/providers/{id}/health/reset', 'GET /v1/recordings/{callId}', 'GET /v1/provider-kinds', 'GET /v1/crm/unresolved',
      'GET /webhooks/{kind}/{providerId}/{path}', 'POST /webhooks/{kind}/{providerId}/{path}', 'GET /webhooks/crm/{kind}/{orgId}/{path}', 'POST /webhooks/crm/{kind}/{orgId}/{path}',
      'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json',
    ];
    for (const e of expected) assert.ok(documented.includes(e), `${e} is documented`);
    assert.deepEqual([...documented].sort(), [...expected].sort(), 'the document describes exactly the routes served');
  });

  test('the issue-16 routes have summaries and response schemas; the recording link documents its token, audio and errors', () => {
    const ops = {
      'PATCH /v1/calls/{id}': doc.paths['/v1/calls/{id}'].patch,
      'GET /v1/recordings/{callId}': doc.paths['/v1/recordings/{callId}'].get,
      'GET /v1/provider-kinds': doc.paths['/v1/provider-kinds'].get,
      'GET /v1/crm/unresolved': doc.paths['/v1/crm/unresolved'].get,
    };
    for (const [name, op] of Object.entries<any>(ops)) {
      assert.ok(op.summary, `${name} has a summary`);
      const ok = op.responses['200'];
      assert.ok(ok?.content && Object.values<any>(ok.content).every((c) => c.schema), `${name} documents its 200 with a schema`);
      for (const code of ['400', '403']) assert.ok(op.responses[code], `${name} documents ${code}`);
    }
    assert.ok(ops['PATCH /v1/calls/{id}'].responses['409'] && ops['PATCH /v1/calls/{id}'].responses['404']);
    assert.ok(ops['PATCH /v1/calls/{id}'].requestBody.content['application/json'].schema.properties.notes);
    const rec = ops['GET /v1/recordings/{callId}'];
    assert.deepEqual(rec.security, [], 'the link is its own credential');
    const token = rec.parameters.find((p: any) => p.in === 'query' && p.name === 'token');
    assert.equal(token?.required, true);
    for (const code of ['200', '206']) {
      assert.ok(rec.responses[code].content['audio/wav'] && rec.responses[code].content['audio/mpeg'], `${code}: audio content types`);
    }
    assert.ok(rec.responses['206'].headers['Content-Range']);
    for (const code of ['403', '404', '416']) assert.ok(rec.responses[code].description, `recordings ${code}`);
    const kinds = ops['GET /v1/provider-kinds'].responses['200'].content['application/json'].schema;
    assert.deepEqual(kinds.items.properties.capabilities.required, ['recording', 'voicemail', 'inbound']);
    const call = doc.components.schemas.Call;
    for (const f of ['recording', 'voicemail', 'missed', 'notes', 'disposition', 'subject', 'match', 'candidates']) assert.ok(call.properties[f], `Call.${f}`);
    assert.ok(call.properties.crmLog.properties.covers, 'Call.crmLog.covers');
    assert.equal(doc.components.schemas.User.properties.ringTimeoutSec.type, 'integer');
  });

  test('the WebSocket upgrade is described with its 101; public routes need no credential; others an org key', () => {
    const ev = doc.paths['/v1/events'].get;
    assert.ok(ev.responses['101'], 'GET /v1/events documents 101 Switching Protocols');
    assert.ok(ev.responses['426']);
    assert.ok(ev.parameters.some((p: any) => p.in === 'query' && p.name === 'userId'));
    for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/webhooks/{kind}/{providerId}/{path}']) assert.deepEqual(doc.paths[p].get.security, [], `${p} is public`);
    assert.deepEqual(doc.paths['/v1/orgs'].post.security, [{ operatorToken: [] }]);
    assert.equal(doc.paths['/v1/users'].get.security, undefined, 'the default: an org key');
    assert.deepEqual(doc.security, [{ orgKey: [] }]);
    assert.ok(doc.paths['/v1/agent-tokens'].post.responses['201'], 'agent tokens documented');
  });
});
