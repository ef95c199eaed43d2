#!/usr/bin/env node
// Cuts the parts of the official OpenAPI specs that the test fakes and tests validate against into
// test/fakes/specs/*.subset.json, so that the tests need nothing outside the repository.
// Run by hand when a spec is refreshed (not by `npm test`); commit its output:
//
//   node scripts/specs/extract.mjs path/to/specs-dir   (the directory holding the official spec files)
//
// Each subset holds the header fields (openapi, info, servers, security), the wanted operations
// (their paths, with only the wanted methods plus the path item's own non-operation fields), and
// every components/* entry they reference, followed through $ref recursively, so every schema
// resolves exactly as it does in the full spec. The security schemes the kept operations name are
// kept too. The output is deterministic: paths in the source's order, components sorted by name.
// Where the files come from: test/fakes/specs/README.md.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
// the official files are downloaded beside the repository, never kept in it: say where they are
if (!process.argv[2]) {
  console.error('usage: node scripts/specs/extract.mjs path/to/specs-dir (where twilio_api_v2010.json and ringcentral_openapi3.json are; see test/fakes/specs/README.md)');
  process.exit(2);
}
const sourceDir = resolve(process.argv[2]);
const outDir = join(root, 'test/fakes/specs');

/**
 * What to keep. operations: [method, path template, operationId (checked, so a renamed or moved
 * operation fails the extraction instead of silently dropping out)] with who uses it.
 * schemas: components read directly by name (not reached from an operation).
 */
const SPECS = [
  {
    source: 'twilio_api_v2010.json',
    out: 'twilio_api_v2010.subset.json',
    operations: [
      // adapters/twilio/rest.ts createCall ("calls.create"); test/fakes/twilio/server.ts validates the
      // request and its 201 Call resource; test/twilio/{fake,outbound,gateway.e2e}.test.ts validate against it
      ['post', '/2010-04-01/Accounts/{AccountSid}/Calls.json', 'CreateCall'],
      // adapters/twilio/rest.ts updateCall ("calls.update": cancel / hang up); test/fakes/twilio/server.ts
      // validates the request and its 200 Call resource; test/twilio/{fake,outbound}.test.ts validate against it
      ['post', '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json', 'UpdateCall'],
      // adapters/twilio/rest.ts fetchCall ("calls.fetch": the reconciler asks where a call stands);
      // test/fakes/twilio/server.ts answers it with the Call resource
      ['get', '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json', 'FetchCall'],
      // adapters/twilio/rest.ts fetchAccount ("accounts.fetch": credentials check at install and the
      // active health probe); test/fakes/twilio/server.ts answers it
      ['get', '/2010-04-01/Accounts/{Sid}.json', 'FetchAccount'],
      // adapters/twilio/rest.ts listChildCalls ("calls.list": a call's <Dial>ed legs, whose prices add
      // to its own); test/fakes/twilio/server.ts answers it with a page of Call resources
      ['get', '/2010-04-01/Accounts/{AccountSid}/Calls.json', 'ListCall'],
      // adapters/twilio/rest.ts fetchRecordingMedia ("recordings.media": GET .../Recordings/{Sid}.wav is
      // this resource with another extension); test/fakes/twilio/server.ts checks the Sid against it
      // and serves the metadata (.json) and the audio (.wav, .mp3)
      ['get', '/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json', 'FetchRecording'],
    ],
    schemas: [
      // test/fakes/twilio/server.ts createCall: the StatusCallbackEvent values it accepts
      'call_enum_event',
    ],
  },
  {
    source: 'ringcentral_openapi3.json',
    out: 'ringcentral_openapi3.subset.json',
    // POST /restapi/oauth/token is not in this spec: test/fakes/ringcentral/server.ts answers it
    // without the spec (adapters/ringcentral/token.ts is its client).
    operations: [
      // adapters/ringcentral/adapter.ts (RINGOUT_PATH); test/fakes/ringcentral/server.ts createRingOut;
      // test/ringcentral/adapter.test.ts inject / rateLimitNext / requestsFor('createRingOutCall')
      ['post', '/restapi/v1.0/account/{accountId}/extension/{extensionId}/ring-out', 'createRingOutCall'],
      // adapters/ringcentral/poller.ts (readRingOut); the fake's ringOutResource; test/ringcentral/adapter.test.ts
      ['get', '/restapi/v1.0/account/{accountId}/extension/{extensionId}/ring-out/{ringoutId}', 'readRingOutCallStatus'],
      // adapters/ringcentral/adapter.ts cancel (deleteRingOut); the fake; test/ringcentral/adapter.test.ts
      ['delete', '/restapi/v1.0/account/{accountId}/extension/{extensionId}/ring-out/{ringoutId}', 'deleteRingOutCall'],
      // adapters/ringcentral/adapter.ts hang up / cancel (sessionPath); the fake; test/ringcentral/adapter.test.ts
      ['delete', '/restapi/v1.0/account/{accountId}/telephony/sessions/{telephonySessionId}', 'deleteCallSession'],
      // adapters/ringcentral/adapter.ts fetchStatus (the reconciler asks where a call stands); the fake
      ['get', '/restapi/v1.0/account/{accountId}/telephony/sessions/{telephonySessionId}', 'readCallSessionStatus'],
      // adapters/ringcentral/adapter.ts verify and health (token + the JWT user's extension); the fake
      ['get', '/restapi/v1.0/account/{accountId}/extension/{extensionId}', 'readExtension'],
      // adapters/ringcentral/subscription.ts; the fake's createSubscription (Validation-Token handshake);
      // test/ringcentral/adapter.test.ts requestsFor('createSubscription')
      ['post', '/restapi/v1.0/subscription', 'createSubscription'],
      // adapters/ringcentral/subscription.ts (readSubscription); the fake
      ['get', '/restapi/v1.0/subscription/{subscriptionId}', 'readSubscription'],
      // test/fakes/ringcentral/server.ts implements it (PUT changes eventFilters / expiresIn)
      ['put', '/restapi/v1.0/subscription/{subscriptionId}', 'updateSubscription'],
      // adapters/ringcentral/subscription.ts; the fake; test/ringcentral/adapter.test.ts
      ['delete', '/restapi/v1.0/subscription/{subscriptionId}', 'deleteSubscription'],
      // adapters/ringcentral/subscription.ts (renewSubscription); the fake; test/ringcentral/adapter.test.ts
      ['post', '/restapi/v1.0/subscription/{subscriptionId}/renew', 'renewSubscription'],
      // adapters/ringcentral/media.ts (provider recording on: record the answered party); the fake
      ['post', '/restapi/v1.0/account/{accountId}/telephony/sessions/{telephonySessionId}/parties/{partyId}/recordings', 'startCallRecording'],
      // adapters/ringcentral/media.ts (after the call: its call log record's recording id); the fake
      ['get', '/restapi/v1.0/account/{accountId}/call-log', 'readCompanyCallLog'],
      // adapters/ringcentral/media.ts fetchMedia (the audio, Range passed on); the fake serves a WAV
      ['get', '/restapi/v1.0/account/{accountId}/recording/{recordingId}/content', 'listCallRecordingData'],
    ],
    schemas: [
      // test/fakes/ringcentral/server.ts: the telephony session notifications it posts to the gateway
      'TelephonySessionsEventBody',
      // test/fakes/ringcentral/server.ts: every error body it sends
      'ErrorResponse',
    ],
  },
];

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

const unescape = (s) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** Every $ref in a node (and discriminator mapping targets, which are refs by another name). */
function refsIn(node, out = []) {
  if (Array.isArray(node)) {
    for (const x of node) refsIn(x, out);
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else if (k === 'discriminator' && v && typeof v.mapping === 'object') {
        for (const target of Object.values(v.mapping)) if (String(target).startsWith('#/')) out.push(String(target));
        refsIn(v, out);
      } else refsIn(v, out);
    }
  }
  return out;
}

/** The components entry a local $ref points into: [type, name]. */
function componentOf(ref, file) {
  const parts = ref.replace(/^#\//, '').split('/').map(unescape);
  if (!ref.startsWith('#/') || parts[0] !== 'components' || parts.length < 3) {
    throw new Error(`${file}: $ref ${ref} does not point into #/components/ (not supported)`);
  }
  return [parts[1], parts[2]];
}

function resolvePointer(doc, ref) {
  let node = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) node = node?.[unescape(part)];
  return node;
}

function extract(spec, doc) {
  const file = spec.source;
  // the operations, in the source's path order
  const wanted = new Map(spec.operations.map(([method, path, operationId]) => [`${method} ${path}`, operationId]));
  const paths = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const methods = Object.keys(item).filter((k) => METHODS.has(k) && wanted.has(`${k} ${path}`));
    if (methods.length === 0) continue;
    const kept = {};
    for (const [k, v] of Object.entries(item)) if (!METHODS.has(k) || methods.includes(k)) kept[k] = v;
    paths[path] = kept;
  }
  for (const [key, operationId] of wanted) {
    const [method, path] = key.split(' ');
    const op = doc.paths?.[path]?.[method];
    if (!op) throw new Error(`${file}: no operation ${method.toUpperCase()} ${path}`);
    if (op.operationId !== operationId) throw new Error(`${file}: ${method.toUpperCase()} ${path} is ${op.operationId}, expected ${operationId}`);
  }

  // components: everything reachable from the kept paths and the named schemas
  const keep = new Map(); // "type/name" -> [type, name]
  const queue = [...refsIn(paths), ...spec.schemas.map((s) => `#/components/schemas/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`)];
  while (queue.length) {
    const ref = queue.pop();
    const [type, name] = componentOf(ref, file);
    const id = `${type}/${name}`;
    if (keep.has(id)) continue;
    const entry = doc.components?.[type]?.[name];
    if (entry === undefined) throw new Error(`${file}: unresolved $ref ${ref}`);
    if (resolvePointer(doc, ref) === undefined) throw new Error(`${file}: unresolved $ref ${ref}`);
    keep.set(id, [type, name]);
    queue.push(...refsIn(entry));
  }
  // security schemes named by the document's or a kept operation's security requirements
  const requirements = [...(doc.security ?? [])];
  for (const item of Object.values(paths)) for (const [k, op] of Object.entries(item)) if (METHODS.has(k)) requirements.push(...(op.security ?? []));
  for (const req of requirements) {
    for (const name of Object.keys(req)) {
      if (doc.components?.securitySchemes?.[name] === undefined) throw new Error(`${file}: unknown security scheme ${name}`);
      if (refsIn(doc.components.securitySchemes[name]).length) throw new Error(`${file}: security scheme ${name} holds a $ref (not supported)`);
      keep.set(`securitySchemes/${name}`, ['securitySchemes', name]);
    }
  }

  const components = {};
  const types = Object.keys(doc.components ?? {});
  for (const type of types) {
    const names = [...keep.values()].filter(([t]) => t === type).map(([, n]) => n).sort();
    if (names.length === 0) continue;
    components[type] = {};
    for (const n of names) components[type][n] = doc.components[type][n];
  }

  const out = {
    openapi: doc.openapi,
    'x-subset': {
      note: 'Generated: do not edit by hand. A subset of the official spec; see test/fakes/specs/README.md.',
      source: file,
      generatedBy: 'node scripts/specs/extract.mjs',
      operations: spec.operations.map(([, , operationId]) => operationId),
    },
    info: doc.info,
  };
  if (doc.servers !== undefined) out.servers = doc.servers;
  if (doc.security !== undefined) out.security = doc.security;
  out.paths = paths;
  out.components = components;

  // the subset must be self-contained: every $ref in it resolves inside it
  for (const ref of refsIn(out)) {
    if (resolvePointer(out, ref) === undefined) throw new Error(`${file}: subset is not self-contained, ${ref} does not resolve`);
  }
  return out;
}

mkdirSync(outDir, { recursive: true });
for (const spec of SPECS) {
  const from = join(sourceDir, spec.source);
  const doc = JSON.parse(readFileSync(from, 'utf8'));
  const subset = extract(spec, doc);
  const text = JSON.stringify(subset, null, 1) + '\n';
  const to = join(outDir, spec.out);
  writeFileSync(to, text);
  const counts = Object.entries(subset.components).map(([t, v]) => `${Object.keys(v).length} ${t}`).join(', ');
  console.log(`${spec.out}: ${spec.operations.length} operations, ${counts}; ${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB (from ${from})`);
}
