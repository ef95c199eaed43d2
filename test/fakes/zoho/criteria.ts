// Zoho search criteria, parsed as Zoho does: ((F:op:value)and|or(F:op:value)...), values with
// `(`, `)` and `,` backslash-escaped. An unescaped parenthesis or comma in a value, an unknown
// operator or an empty condition is an INVALID_QUERY.

export type Criteria =
  | { kind: 'cond'; field: string; op: string; value: string }
  | { kind: 'group'; op: 'and' | 'or'; items: Criteria[] };

export class CriteriaError extends Error {}

const OPS = new Set(['equals', 'not_equal', 'starts_with', 'in', 'greater_than', 'less_than', 'between']);

export function parseCriteria(src: string): Criteria {
  let i = 0;
  const expect = (c: string) => {
    if (src[i] !== c) throw new CriteriaError(`expected "${c}" at ${i}`);
    i++;
  };
  const parseGroup = (): Criteria => {
    expect('(');
    if (src[i] === '(') {
      const items: Criteria[] = [parseGroup()];
      let op: 'and' | 'or' | null = null;
      while (src[i] !== ')') {
        const m = /^(and|or)/.exec(src.slice(i));
        if (!m) throw new CriteriaError(`expected and/or at ${i}`);
        const thisOp = m[1] as 'and' | 'or';
        if (op && op !== thisOp) throw new CriteriaError('mixed and/or without grouping');
        op = thisOp;
        i += m[1].length;
        items.push(parseGroup());
      }
      expect(')');
      return items.length === 1 ? items[0] : { kind: 'group', op: op ?? 'and', items };
    }
    const fieldEnd = src.indexOf(':', i);
    if (fieldEnd < 0) throw new CriteriaError('missing ":"');
    const field = src.slice(i, fieldEnd);
    i = fieldEnd + 1;
    const opEnd = src.indexOf(':', i);
    if (opEnd < 0) throw new CriteriaError('missing operator');
    const op = src.slice(i, opEnd);
    if (!OPS.has(op)) throw new CriteriaError(`unknown operator ${op}`);
    i = opEnd + 1;
    let value = '';
    for (;;) {
      const c = src[i];
      if (c === undefined) throw new CriteriaError('unterminated condition');
      if (c === '\\') {
        const n = src[i + 1];
        if (n === undefined) throw new CriteriaError('dangling escape');
        value += n;
        i += 2;
        continue;
      }
      if (c === ')') break;
      if (c === '(' || c === ',') throw new CriteriaError(`unescaped "${c}" in a value`);
      value += c;
      i++;
    }
    expect(')');
    if (!field || !value) throw new CriteriaError('empty field or value');
    return { kind: 'cond', field, op, value };
  };
  const out = parseGroup();
  if (i !== src.length) throw new CriteriaError('trailing characters');
  return out;
}

export function countConditions(c: Criteria): number {
  return c.kind === 'cond' ? 1 : c.items.reduce((n, x) => n + countConditions(x), 0);
}

export function fieldsOf(c: Criteria): string[] {
  return c.kind === 'cond' ? [c.field] : c.items.flatMap(fieldsOf);
}

export function matches(c: Criteria, rec: Record<string, unknown>): boolean {
  if (c.kind === 'group') return c.op === 'and' ? c.items.every((x) => matches(x, rec)) : c.items.some((x) => matches(x, rec));
  const v = rec[c.field];
  if (typeof v !== 'string') return false;
  switch (c.op) {
    case 'equals':
      return v === c.value;
    case 'not_equal':
      return v !== c.value;
    case 'starts_with':
      return v.startsWith(c.value);
    default:
      return false;
  }
}
