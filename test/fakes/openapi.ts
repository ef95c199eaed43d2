// Validates requests and responses against the official OpenAPI specs in ../shared/specs/.
// The fakes use it to refuse any request the real service would not accept, and to check that
// every response they send is one the real service could send. Specs are read in place, never copied.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export arrives under .default in ESM
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;

export const SPECS_DIR = resolve(import.meta.dirname, '../../../shared/specs');

type Json = Record<string, any>;

export interface SpecOperation {
  method: string;
  pathTemplate: string;
  operationId?: string;
  /** matches a concrete path (with the server's base path prefix, if any, already stripped) */
  regex: RegExp;
  op: Json;
}

export interface ValidationResult {
  ok: boolean;
  errors: string[];
}

export class OpenApiSpec {
  readonly doc: Json;
  private readonly ajv: Ajv;
  private readonly formAjv: Ajv;
  private readonly ops: SpecOperation[] = [];
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(file: string) {
    this.doc = JSON.parse(readFileSync(resolve(SPECS_DIR, file), 'utf8'));
    const mk = (coerce: boolean) => {
      const ajv = new Ajv({
        strict: false,
        allErrors: true,
        coerceTypes: coerce ? 'array' : false,
        validateFormats: true,
        discriminator: false,
        logger: false,
      });
      addFormats(ajv);
      // vendor formats the specs use that JSON Schema does not define
      for (const f of ['endpoint', 'http-method', 'uri-template', 'phone-number', 'sid', 'currency', 'date-time-rfc-2822', 'int32', 'int64', 'float', 'double', 'binary', 'byte', 'password']) {
        if (!ajv.formats[f]) ajv.addFormat(f, true);
      }
      // the whole document under one id so "#/components/schemas/X" resolves
      ajv.addSchema({ $id: 'spec', components: this.doc.components ?? {} } as Json);
      return ajv;
    };
    this.ajv = mk(false);
    this.formAjv = mk(true);
    for (const [path, item] of Object.entries<Json>(this.doc.paths ?? {})) {
      for (const method of ['get', 'post', 'put', 'delete', 'patch']) {
        const op = item[method];
        if (!op) continue;
        const rx = '^' + path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$';
        this.ops.push({ method: method.toUpperCase(), pathTemplate: path, operationId: op.operationId, regex: new RegExp(rx), op });
      }
    }
  }

  /** Finds the operation for a concrete request path (query string excluded). */
  find(method: string, path: string): SpecOperation | undefined {
    const m = method.toUpperCase();
    // prefer templates with fewer parameters (literal segments win over {param})
    const matches = this.ops.filter((o) => o.method === m && o.regex.test(path));
    matches.sort((a, b) => (a.pathTemplate.match(/\{/g)?.length ?? 0) - (b.pathTemplate.match(/\{/g)?.length ?? 0));
    return matches[0];
  }

  private compile(key: string, schema: Json, form: boolean): ValidateFunction {
    let v = this.cache.get(key);
    if (!v) {
      const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"spec#/components/'));
      v = (form ? this.formAjv : this.ajv).compile(rewritten);
      this.cache.set(key, v);
    }
    return v;
  }

  /**
   * Validates a request body. Form bodies are given as an object of string | string[] (as parsed),
   * and validated with type coercion, as the real service reads them.
   */
  validateRequest(op: SpecOperation, contentType: string, body: unknown): ValidationResult {
    const content = op.op.requestBody?.content as Json | undefined;
    if (!content) return { ok: true, errors: [] };
    const ct = contentType.split(';')[0].trim().toLowerCase();
    const media = content[ct];
    if (!media) return { ok: false, errors: [`content type ${ct} not accepted (expects ${Object.keys(content).join(', ')})`] };
    if (!media.schema) return { ok: true, errors: [] };
    const form = ct === 'application/x-www-form-urlencoded';
    const v = this.compile(`req ${op.method} ${op.pathTemplate} ${ct}`, media.schema, form);
    const copy = form ? { ...(body as Json) } : body;
    const ok = v(copy) as boolean;
    return { ok, errors: ok ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message}`) };
  }

  /** Checks that required query parameters are present and known ones have the declared type. */
  validateQuery(op: SpecOperation, query: Record<string, string | string[]>): ValidationResult {
    const errors: string[] = [];
    for (const p of (op.op.parameters ?? []) as Json[]) {
      const param = p.$ref ? this.deref(p.$ref) : p;
      if (param.in !== 'query') continue;
      if (param.required && query[param.name] === undefined) errors.push(`query parameter ${param.name} is required`);
    }
    return { ok: errors.length === 0, errors };
  }

  /** Validates a response body against the status's schema (or "default"). */
  validateResponse(op: SpecOperation, status: number, body: unknown): ValidationResult {
    const responses = op.op.responses as Json;
    const r = responses[String(status)] ?? responses.default;
    if (!r) return { ok: false, errors: [`status ${status} is not declared for ${op.operationId ?? op.pathTemplate}`] };
    const resp = r.$ref ? this.deref(r.$ref) : r;
    const media = resp.content?.['application/json'];
    if (!media?.schema) return { ok: true, errors: [] };
    const v = this.compile(`res ${op.method} ${op.pathTemplate} ${status}`, media.schema, false);
    const ok = v(body) as boolean;
    return { ok, errors: ok ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message}`) };
  }

  deref(ref: string): Json {
    let node: any = this.doc;
    for (const part of ref.replace(/^#\//, '').split('/')) node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (!node) throw new Error(`unresolved $ref ${ref}`);
    return node;
  }
}

let twilio: OpenApiSpec | undefined;
let ringcentral: OpenApiSpec | undefined;
/** Parsed once per process: the RingCentral spec is 4 MB. */
export function twilioSpec(): OpenApiSpec {
  return (twilio ??= new OpenApiSpec('twilio_api_v2010.json'));
}
export function ringcentralSpec(): OpenApiSpec {
  return (ringcentral ??= new OpenApiSpec('ringcentral_openapi3.json'));
}
