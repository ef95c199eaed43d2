// Form pieces the pages share: labelled fields, the per-kind config form (secrets write-only),
// region inputs, the searchable user picker, inline alerts and the confirmation dialog.

import { ApiError, type Conflict, type Provider, type User } from './api.js';
import { h, plural, replace, uid, type Child } from './dom.js';
import type { Field } from './kinds.js';
import { providerName, serves } from './state.js';

export class FormError extends Error {
  constructor(
    message: string,
    readonly input?: HTMLElement,
  ) {
    super(message);
  }
}

/** A label + control + optional help text, wired with for/id and aria-describedby. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, help?: string): HTMLElement {
  const id = control.id || uid('in');
  control.id = id;
  // the "*" is drawn by CSS so the label's text (its accessible name) stays just the label;
  // the control's own required attribute is what assistive technology announces
  const parts: Child[] = [h('label', { for: id, class: control.required ? 'required' : null }, label), control];
  if (help) {
    const hid = `${id}-help`;
    control.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'help', id: hid }, help));
  }
  return h('div', { class: 'field' }, parts);
}

export function checkbox(label: string, checked = false, attrs: Record<string, string> = {}): { el: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', id: uid('cb'), ...attrs, checked });
  return { el: h('div', { class: 'check' }, input, h('label', { for: input.id }, label)), input };
}

/** An alert area for a form's errors: role=alert so the message is announced when it appears. */
export function alertBox(): { el: HTMLElement; show(msg: Child): void; clear(): void } {
  const el = h('div', { class: 'alert-slot', role: 'alert' });
  return {
    el,
    show(msg) {
      replace(el, h('div', { class: 'alert alert-error' }, msg));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  if (value === undefined) delete cur[parts[parts.length - 1]];
  else cur[parts[parts.length - 1]] = value;
}

const REDACTED = '********';

export interface ConfigForm {
  el: HTMLElement;
  /** The config to send; throws FormError naming the field at fault. */
  read(): Record<string, unknown>;
}

/**
 * The config form of a kind. On edit, non-secret values are filled in; secrets are never shown
 * (the gateway only returns a marker) and an empty secret field means "keep the stored one".
 */
export function configForm(fields: Field[] | null, existing?: Record<string, unknown>): ConfigForm {
  const editing = existing !== undefined;
  if (!fields) {
    const ta = h('textarea', { rows: 8, class: 'mono', spellcheck: 'false' });
    ta.value = JSON.stringify(existing ?? {}, null, 2);
    return {
      el: field('Configuration (JSON)', ta, editing ? `Secrets show as ${REDACTED}; leave them so to keep the stored values.` : undefined),
      read() {
        try {
          const v = JSON.parse(ta.value || '{}');
          if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
          return v;
        } catch {
          throw new FormError('The configuration must be a JSON object.', ta);
        }
      },
    };
  }
  const controls: Array<{ f: Field; input: HTMLInputElement | HTMLSelectElement }> = [];
  const basic: HTMLElement[] = [];
  const advanced: HTMLElement[] = [];
  for (const f of fields) {
    const cur = existing ? getPath(existing, f.path) : undefined;
    let input: HTMLInputElement | HTMLSelectElement;
    let el: HTMLElement;
    if (f.type === 'bool') {
      const cb = checkbox(f.label, cur === true, { name: f.path });
      input = cb.input;
      el = cb.el;
    } else if (f.type === 'select') {
      input = h('select', { name: f.path }, h('option', { value: '' }, '(default)'), (f.options ?? []).map((o) => h('option', { value: o }, o)));
      input.value = typeof cur === 'string' ? cur : '';
      el = field(f.label, input, f.help);
    } else {
      const secret = f.type === 'secret';
      input = h('input', {
        name: f.path,
        type: secret ? 'password' : f.type === 'number' ? 'number' : 'text',
        autocomplete: secret ? 'new-password' : 'off',
        spellcheck: 'false',
        min: f.min,
        max: f.max,
        // a stored secret is never sent back: the field stays empty and says so
        placeholder: secret && editing && cur !== undefined ? 'unchanged' : f.placeholder,
        required: Boolean(f.required && !(secret && editing)),
      });
      if (!secret && cur !== undefined) input.value = Array.isArray(cur) ? cur.join(', ') : String(cur);
      const help = secret ? (editing ? 'Write-only. Leave empty to keep the stored value.' : 'Write-only: it is never shown again.') : f.help;
      el = field(f.label, input, help);
    }
    controls.push({ f, input });
    (f.advanced ? advanced : basic).push(el);
  }
  const hasAdvancedValue = fields.some((f) => f.advanced && existing && getPath(existing, f.path) !== undefined);
  const el = h(
    'div',
    { class: 'config-form' },
    basic,
    advanced.length ? h('details', { class: 'advanced', open: hasAdvancedValue }, h('summary', null, 'Advanced settings'), advanced) : null,
  );
  return {
    el,
    read() {
      // start from the stored config so keys the form does not know survive an edit
      const out: Record<string, unknown> = existing ? structuredClone(existing) : {};
      for (const { f, input } of controls) {
        const stored = existing ? getPath(existing, f.path) : undefined;
        if (f.type === 'secret') {
          const v = (input as HTMLInputElement).value;
          if (v) setPath(out, f.path, v);
          else if (stored === REDACTED) setPath(out, f.path, REDACTED); // the gateway keeps the stored secret
          else if (f.required && !editing) throw new FormError(`${f.label} is required.`, input);
          continue;
        }
        if (f.type === 'bool') {
          const on = (input as HTMLInputElement).checked;
          setPath(out, f.path, on ? true : stored === undefined ? undefined : false);
          continue;
        }
        const raw = input.value.trim();
        if (!raw) {
          if (f.required) throw new FormError(`${f.label} is required.`, input);
          setPath(out, f.path, undefined);
          continue;
        }
        if (f.type === 'number') {
          const n = Number(raw);
          if (!Number.isInteger(n)) throw new FormError(`${f.label} must be a whole number.`, input);
          setPath(out, f.path, n);
        } else if (f.type === 'list') {
          setPath(out, f.path, raw.split(/[\s,]+/).filter(Boolean));
        } else setPath(out, f.path, raw);
      }
      return out;
    },
  };
}

export interface RegionsForm {
  el: HTMLElement;
  read(): { allow?: string[]; deny?: string[] };
}

export function regionsForm(cur?: { allow?: string[]; deny?: string[] }): RegionsForm {
  const allow = h('input', { type: 'text', name: 'regions.allow', placeholder: 'e.g. CA, US (empty = every country)', autocomplete: 'off', spellcheck: 'false' });
  const deny = h('input', { type: 'text', name: 'regions.deny', placeholder: 'e.g. CN', autocomplete: 'off', spellcheck: 'false' });
  allow.value = (cur?.allow ?? []).join(', ');
  deny.value = (cur?.deny ?? []).join(', ');
  const parse = (input: HTMLInputElement, what: string): string[] | undefined => {
    const list = input.value.toUpperCase().split(/[\s,]+/).filter(Boolean);
    const bad = list.find((c) => !/^[A-Z]{2}$/.test(c));
    if (bad) throw new FormError(`${what}: "${bad}" is not a two-letter country code (ISO 3166-1 alpha-2, e.g. CA).`, input);
    return list.length ? list : undefined;
  };
  return {
    el: h(
      'fieldset',
      { class: 'regions' },
      h('legend', null, 'Regional availability'),
      field('Serve only these countries', allow, 'Two-letter country codes, comma-separated. Empty serves every country.'),
      field('Never serve these countries', deny),
    ),
    read() {
      const out: { allow?: string[]; deny?: string[] } = {};
      const a = parse(allow, 'Serve only');
      const d = parse(deny, 'Never serve');
      if (a) out.allow = a;
      if (d) out.deny = d;
      return out;
    },
  };
}

export function userLabel(u: User): string {
  return u.name ? `${u.name} (${u.id})` : u.id;
}

export interface UserPicker {
  el: HTMLElement;
  selected(): string[];
  clear(): void;
}

/**
 * A searchable checkbox list of users. Each row says where the user is now and whether `target`
 * serves their region, so conflicts are visible before anything is sent.
 */
export function userPicker(users: User[], opts: { legend: string; target?: Provider; exclude?: (u: User) => boolean }): UserPicker {
  const chosen = new Set<string>();
  const search = h('input', { type: 'search', placeholder: 'Name, id, email or region', autocomplete: 'off' });
  const count = h('p', { class: 'picker-count', 'aria-live': 'polite' }, '0 selected');
  const list = h('ul', { class: 'picker-list' });
  const pool = users.filter((u) => !opts.exclude?.(u));
  const updateCount = () => (count.textContent = `${chosen.size} selected`);

  const matches = (u: User, q: string) =>
    !q || [u.id, u.name ?? '', u.email ?? '', u.region].some((x) => x.toLowerCase().includes(q));

  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = pool.filter((u) => matches(u, q)).slice(0, 500);
    if (!shown.length) {
      replace(list, h('li', { class: 'muted' }, pool.length ? 'No user matches the search.' : 'There are no users to choose from.'));
      return;
    }
    replace(
      list,
      shown.map((u) => {
        const notes: string[] = [u.region];
        if (u.providerId) notes.push(`on ${providerName(u.providerId)}`);
        if (opts.target && !serves(opts.target, u.region)) notes.push(`${opts.target.name} does not serve ${u.region}`);
        const input = h('input', {
          type: 'checkbox',
          id: uid('pick'),
          value: u.id,
          checked: chosen.has(u.id),
          onchange: (e: Event) => {
            if ((e.target as HTMLInputElement).checked) chosen.add(u.id);
            else chosen.delete(u.id);
            updateCount();
          },
        });
        return h('li', null, input, h('label', { for: input.id }, userLabel(u), h('span', { class: 'muted' }, ` · ${notes.join(' · ')}`)));
      }),
    );
  };

  search.addEventListener('input', draw);
  const selectShown = h('button', {
    type: 'button',
    class: 'btn btn-small',
    onclick: () => {
      const q = search.value.trim().toLowerCase();
      for (const u of pool) if (matches(u, q)) chosen.add(u.id);
      draw();
      updateCount();
    },
  }, 'Select all shown');
  const clearBtn = h('button', { type: 'button', class: 'btn btn-small', onclick: () => { chosen.clear(); draw(); updateCount(); } }, 'Clear');
  draw();
  return {
    el: h(
      'fieldset',
      { class: 'picker' },
      h('legend', null, opts.legend),
      field('Search users', search),
      h('div', { class: 'picker-tools' }, selectShown, clearBtn, count),
      list,
    ),
    selected: () => [...chosen],
    clear: () => {
      chosen.clear();
      draw();
      updateCount();
    },
  };
}

/** One sentence per conflict, naming the provider a user is already on. */
export function conflictText(c: Conflict, target: string, users?: Map<string, User>): string {
  const u = users?.get(c.userId);
  const who = u ? userLabel(u) : c.userId;
  switch (c.reason) {
    case 'assigned_elsewhere':
      return `${who} is already on ${providerName(c.providerId)}. A user has one provider at a time: remove them from ${providerName(c.providerId)} first, or use Move on the Users page.`;
    case 'region_unavailable':
      return `${who}${u ? ` (region ${u.region})` : ''} was not added: ${target} does not serve that region.`;
    default:
      return `${who} does not exist (any more).`;
  }
}

/**
 * A readable message for an API error, naming providers and users instead of showing ids.
 * `user` is the user the action was about, for errors whose details do not say.
 */
export function errorText(e: unknown, ctx: { target?: string; users?: Map<string, User>; user?: User } = {}): string {
  if (!(e instanceof ApiError)) return (e as Error)?.message ?? String(e);
  const d = e.details as { userId?: string; providerId?: string; region?: string };
  const u = (d.userId ? ctx.users?.get(d.userId) : undefined) ?? ctx.user;
  const who = u ? userLabel(u) : d.userId;
  if (e.code === 'assigned_elsewhere' && d.providerId) {
    const there = providerName(d.providerId);
    return `${who ?? 'This user'} is already on ${there}. A user has one provider at a time: remove them from ${there} first, or use Move on the Users page.`;
  }
  if (e.code === 'region_unavailable') {
    const provider = d.providerId ? providerName(d.providerId) : (ctx.target ?? 'This provider');
    const region = d.region ?? u?.region;
    const whose = who ? `, the region of ${who}` : '';
    return `${provider} does not serve ${region ?? 'this region'}${whose}. Choose a provider that serves it, or change the provider's regions.`;
  }
  if (e.status === 0) return e.message;
  return `${e.message} (${e.status} ${e.code})`;
}

export function conflictList(conflicts: Conflict[], target: string, users?: Map<string, User>): HTMLElement | null {
  if (!conflicts.length) return null;
  return h(
    'div',
    { class: 'alert alert-warn' },
    h('p', null, h('strong', null, `${plural(conflicts.length, 'user')} could not be added:`)),
    h('ul', null, conflicts.map((c) => h('li', null, conflictText(c, target, users)))),
  );
}

/**
 * A modal confirmation (native <dialog>: focus is trapped and Escape cancels). Resolves true when
 * the admin confirms.
 */
export function confirmDialog(opts: { title: string; body: Child; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const cancel = h('button', { type: 'button', class: 'btn', onclick: () => close(false) }, 'Cancel');
    const ok = h('button', { type: 'button', class: opts.danger ? 'btn btn-danger' : 'btn btn-primary', onclick: () => close(true) }, opts.confirm);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, h('h2', { id: titleId }, opts.title), h('div', { class: 'dialog-body' }, opts.body), h('div', { class: 'actions' }, cancel, ok));
    const back = document.activeElement as HTMLElement | null;
    let done = false;
    const close = (v: boolean) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      back?.focus?.();
      resolve(v);
    };
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    // the safe choice has focus, so Enter does not uninstall anything by accident
    cancel.focus();
  });
}
