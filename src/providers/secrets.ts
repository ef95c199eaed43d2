// Secrets in provider and CRM configs are write-only: every read replaces them with a marker,
// and an update that sends the marker back (or leaves the field out) keeps the stored secret.

export const REDACTED = '********';

function getPath(obj: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    const next = cur[p];
    if (!next || typeof next !== 'object') return;
    cur = next as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

export function redact(config: Record<string, unknown>, secretFields: string[]): Record<string, unknown> {
  const copy = structuredClone(config);
  for (const f of secretFields) {
    const path = f.split('.');
    if (getPath(copy, path) !== undefined) setPath(copy, path, REDACTED);
  }
  return copy;
}

/** Fills secrets the client left out or sent back redacted from the stored config. */
export function keepSecrets(next: Record<string, unknown>, prev: Record<string, unknown>, secretFields: string[]): Record<string, unknown> {
  const copy = structuredClone(next);
  for (const f of secretFields) {
    const path = f.split('.');
    const v = getPath(copy, path);
    const old = getPath(prev, path);
    if ((v === undefined || v === REDACTED) && old !== undefined) {
      // only when the parent object exists in the new config
      const parent = path.length === 1 ? copy : getPath(copy, path.slice(0, -1));
      if (parent && typeof parent === 'object') setPath(copy, path, old);
    }
  }
  return copy;
}

/** Every secret value in a config, to scrub from logs and error messages. */
export function secretValues(config: Record<string, unknown>, secretFields: string[]): string[] {
  const out: string[] = [];
  for (const f of secretFields) {
    const v = getPath(config, f.split('.'));
    if (typeof v === 'string' && v.length >= 4) out.push(v);
  }
  return out;
}
