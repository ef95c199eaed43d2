// Marketplace: the provider kinds this gateway offers, and the install form for one of them
// (config, regions, priority, and who gets it: all users, specific users, future users).

import { all, api, type AssignResult, type Provider, type User } from '../api.js';
import { h, plural, replace } from '../dom.js';
import { alertBox, checkbox, configForm, conflictList, errorText, field, FormError, regionsForm, userPicker } from '../forms.js';
import { kindInfo } from '../kinds.js';
import { toast } from '../notify.js';
import { loadKinds, refreshProviders, state } from '../state.js';
import type { PageContext } from './page.js';

export async function marketplacePage(ctx: PageContext): Promise<void> {
  const list = h('ul', { class: 'cards' }, h('li', { class: 'muted' }, 'Loading…'));
  ctx.main.append(
    h('h1', null, 'Provider marketplace'),
    h('p', { class: 'lead' }, 'Install any number of providers; the same kind may be installed more than once (say, one Twilio account per region).'),
    list,
  );
  ctx.setTitle('Marketplace');
  const [kinds] = await Promise.all([loadKinds(), refreshProviders()]);
  replace(
    list,
    kinds.map((k) => {
      const info = kindInfo(k);
      const installed = state.providers.filter((p) => p.kind === k).length;
      const hid = `kind-${k}`;
      return h(
        'li',
        { class: 'card kind-card' },
        h('h2', { id: hid }, info.title),
        h('p', null, info.blurb),
        h('p', { class: 'muted' }, installed ? `${plural(installed, 'installation')} in this org` : 'Not installed yet'),
        h('a', { class: 'btn btn-primary', href: `/admin/providers/new/${encodeURIComponent(k)}`, 'aria-describedby': hid }, `Install ${info.title}`),
      );
    }),
  );
}

export async function installPage(ctx: PageContext, kind: string): Promise<void> {
  const info = kindInfo(kind);
  ctx.main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '/admin/providers' }, 'Marketplace'), ' / ', info.title),
    h('h1', null, `Install ${info.title}`),
  );
  ctx.setTitle(`Install ${info.title}`);
  const [users] = await Promise.all([all<User>('/v1/users'), refreshProviders()]);
  if (ctx.signal.aborted) return;

  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, autocomplete: 'off' });
  name.value = state.providers.some((p) => p.name === info.title) ? `${info.title} ${state.providers.length + 1}` : info.title;
  const priority = h('input', { type: 'number', name: 'priority', value: '0', step: 1 });
  const cfg = configForm(info.fields);
  const regions = regionsForm();
  const usersById = new Map(users.map((u) => [u.id, u]));

  const scopeAll = h('input', { type: 'radio', name: 'scope', value: 'all', id: 'scope-all' });
  const scopeSpecific = h('input', { type: 'radio', name: 'scope', value: 'specific', id: 'scope-specific', checked: true });
  const future = checkbox('Also install for all future users (users created later are assigned automatically)');
  const picker = userPicker(users, { legend: 'Users to install for' });
  const pickerWrap = h('div', null, picker.el);
  const syncScope = () => (pickerWrap.hidden = scopeAll.checked);
  scopeAll.addEventListener('change', syncScope);
  scopeSpecific.addEventListener('change', syncScope);

  // the gateway checks the credentials with the provider before it stores anything (422 when
  // refused or unreachable); an install prepared offline skips it
  const verify = checkbox('Check the credentials with the provider now (uncheck for an offline install)', true);
  const alert = alertBox();
  const result = h('div', { class: 'result-slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Install');
  const form = h(
    'form',
    { class: 'card form', novalidate: true },
    alert.el,
    h('fieldset', null, h('legend', null, 'Provider'), field('Name', name, 'Shown to admins, e.g. "Twilio Europe".'), cfg.el, verify.el),
    regions.el,
    field('Priority', priority, 'When several providers take future users in a region, the lowest priority wins.'),
    h(
      'fieldset',
      { class: 'scope' },
      h('legend', null, 'Install for'),
      h('div', { class: 'check' }, scopeAll, h('label', { for: 'scope-all' }, 'All users (users already on another provider are skipped and listed, never moved)')),
      h('div', { class: 'check' }, scopeSpecific, h('label', { for: 'scope-specific' }, 'Specific users')),
      future.el,
    ),
    pickerWrap,
    h('div', { class: 'actions' }, submit, h('a', { class: 'btn', href: '/admin/providers' }, 'Cancel')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.clear();
    let body: Record<string, unknown>;
    try {
      if (!name.value.trim()) throw new FormError('Name is required.', name);
      const pr = Number(priority.value || '0');
      if (!Number.isInteger(pr)) throw new FormError('Priority must be a whole number.', priority);
      const install = scopeAll.checked
        ? { scope: 'all', futureUsers: future.input.checked }
        : { scope: 'specific', userIds: picker.selected(), futureUsers: future.input.checked };
      body = { kind, name: name.value.trim(), config: cfg.read(), regions: regions.read(), priority: pr, install };
    } catch (err) {
      if (err instanceof FormError) {
        alert.show(err.message);
        err.input?.focus();
        return;
      }
      throw err;
    }
    submit.disabled = true;
    try {
      const p = await api<Provider & { install: AssignResult }>('POST', verify.input.checked ? '/v1/providers' : '/v1/providers?verify=false', body);
      await refreshProviders();
      const n = p.install.assigned.length;
      toast(`${p.name} installed for ${plural(n, 'user')}${p.futureUsers ? ' and future users' : ''}.`);
      if (p.install.conflicts.length) {
        // stay on the page so the admin reads who was skipped and why
        replace(
          result,
          h(
            'div',
            { class: 'card' },
            h('h2', { tabindex: '-1' }, `${p.name} is installed`),
            h('p', null, `Assigned ${plural(n, 'user')}.`),
            conflictList(p.install.conflicts, p.name, usersById),
            h('a', { class: 'btn btn-primary', href: `/admin/installed/${encodeURIComponent(p.id)}` }, 'Open provider details'),
          ),
        );
        form.remove();
        (result.querySelector('h2') as HTMLElement | null)?.focus();
        return;
      }
      ctx.navigate(`/installed/${encodeURIComponent(p.id)}`);
    } catch (err) {
      alert.show(errorText(err, { target: name.value }));
    } finally {
      submit.disabled = false;
    }
  });
  ctx.main.append(form, result);
}
