// One installed provider: details (secrets never shown), edit, extend to all / future users,
// its users (add with a searchable picker, remove), and uninstall with a confirmation that
// says how many users lose telephony.

import { all, api, ApiError, enc, type AssignResult, type Provider, type User } from '../api.js';
import { h, plural, replace, type Child } from '../dom.js';
import { alertBox, checkbox, configForm, confirmDialog, conflictList, errorText, field, FormError, regionsForm, userLabel, userPicker } from '../forms.js';
import { healthBadge, scopeText } from '../health.js';
import { kindInfo } from '../kinds.js';
import { toast } from '../notify.js';
import { refreshProviders, regionsText } from '../state.js';
import type { PageContext } from './page.js';

const REDACTED = '********';

function configRows(config: Record<string, unknown>, prefix = ''): Array<[string, Child]> {
  const rows: Array<[string, Child]> = [];
  for (const [k, v] of Object.entries(config)) {
    const key = prefix + k;
    if (v && typeof v === 'object' && !Array.isArray(v)) rows.push(...configRows(v as Record<string, unknown>, key + '.'));
    else if (v === REDACTED) rows.push([key, h('span', { class: 'muted' }, 'set (write-only, never shown)')]);
    else rows.push([key, Array.isArray(v) ? v.join(', ') : String(v)]);
  }
  return rows;
}

function dl(rows: Array<[string, Child]>): HTMLElement {
  return h('dl', { class: 'dl' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

export async function providerPage(ctx: PageContext, id: string, editing: boolean): Promise<void> {
  let p: Provider;
  try {
    [p] = await Promise.all([api<Provider>('GET', `/v1/providers/${enc(id)}`), refreshProviders()]);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      ctx.main.append(h('h1', null, 'Provider not found'), h('p', null, 'It may have been uninstalled. ', h('a', { href: '/admin/installed' }, 'Back to installed providers')));
      ctx.setTitle('Provider not found');
      return;
    }
    throw e;
  }
  if (ctx.signal.aborted) return;
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '/admin/installed' }, 'Installed'), ' / ', p.name);
  if (editing) return editPage(ctx, p, crumbs);

  const users = await all<User>('/v1/users');
  if (ctx.signal.aborted) return;
  const usersById = new Map(users.map((u) => [u.id, u]));

  const uninstall = h('button', { type: 'button', class: 'btn btn-danger', onclick: () => void doUninstall() }, 'Uninstall…');
  ctx.main.append(crumbs, h('div', { class: 'title-row' }, h('h1', null, p.name), healthBadge(p)));
  ctx.setTitle(p.name);

  const summary = h('section', { class: 'card', 'aria-labelledby': 'sum-h' }, h('h2', { id: 'sum-h' }, 'Summary'));
  const fillSummary = (pv: Provider) =>
    replace(
      summary,
      h('h2', { id: 'sum-h' }, 'Summary'),
      dl([
        ['Kind', kindInfo(pv.kind).title],
        ['Installed for', h('span', { id: 'scope-text' }, scopeText(pv))],
        ['Users', h('span', { id: 'user-count' }, String(pv.userCount))],
        ['Regions', regionsText(pv.regions)],
        ['Priority', String(pv.priority)],
        ['Provider id', h('code', null, pv.id)],
      ]),
    );
  fillSummary(p);

  const detailRows = Object.entries(p.details ?? {}).map(([k, v]) => [k, typeof v === 'string' && /^https?:/.test(v) ? h('code', null, v) : String(v)] as [string, Child]);
  const setup = detailRows.length ? h('section', { class: 'card', 'aria-labelledby': 'setup-h' }, h('h2', { id: 'setup-h' }, 'Set-up details'), dl(detailRows)) : null;
  const cfgRows = configRows(p.config);
  const config = h('section', { class: 'card', 'aria-labelledby': 'cfg-h' }, h('h2', { id: 'cfg-h' }, 'Configuration'), cfgRows.length ? dl(cfgRows) : h('p', { class: 'muted' }, 'Defaults only.'));

  // ---- extend to all users ----------------------------------------------------------------
  const extendAlert = alertBox();
  const extendResult = h('div', { class: 'result-slot' });
  const extendFuture = checkbox('Also all future users', p.futureUsers);
  const extendBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Install for all users');
  const extend = h(
    'form',
    { class: 'card', 'aria-labelledby': 'ext-h', novalidate: true },
    h('h2', { id: 'ext-h' }, 'Install for all users'),
    h('p', null, 'Adds every user who has no provider yet and whose region this provider serves. Users on another provider are listed, never moved.'),
    extendAlert.el,
    extendFuture.el,
    h('div', { class: 'actions' }, extendBtn),
    extendResult,
  );
  extend.addEventListener('submit', async (e) => {
    e.preventDefault();
    extendAlert.clear();
    extendBtn.disabled = true;
    try {
      const r = await api<AssignResult>('POST', `/v1/providers/${enc(p.id)}/install-all`, { futureUsers: extendFuture.input.checked });
      const fresh = await api<Provider>('GET', `/v1/providers/${enc(p.id)}`);
      p = fresh;
      fillSummary(fresh);
      replace(extendResult, h('p', { class: 'ok-text' }, `Now installed for all users${fresh.futureUsers ? ' and future users' : ''}: ${plural(r.assigned.length, 'user')} added.`), conflictList(r.conflicts, p.name, usersById));
      toast(`${p.name}: installed for all users${fresh.futureUsers ? ' and future users' : ''}.`);
      await drawUsers();
    } catch (err) {
      extendAlert.show(errorText(err, { target: p.name }));
    } finally {
      extendBtn.disabled = false;
    }
  });

  // ---- users ------------------------------------------------------------------------------
  const usersSection = h('section', { class: 'card', 'aria-labelledby': 'users-h' });
  const usersAlert = alertBox();
  const addResult = h('div', { class: 'result-slot' });
  const listSlot = h('div');
  const pickerSlot = h('div');
  let picker = userPicker([], { legend: 'Add users' });

  const drawUsers = async () => {
    const [mine, everyone] = await Promise.all([all<User>(`/v1/providers/${enc(p.id)}/users`), all<User>('/v1/users')]);
    usersById.clear();
    for (const u of everyone) usersById.set(u.id, u);
    const fresh = await api<Provider>('GET', `/v1/providers/${enc(p.id)}`);
    p = fresh;
    fillSummary(fresh);
    replace(
      listSlot,
      mine.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'table', id: 'provider-users' },
              h('caption', { class: 'sr-only' }, `Users on ${p.name}`),
              h('thead', null, h('tr', null, ['User', 'Email', 'Region', ''].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                null,
                mine.map((u) =>
                  h(
                    'tr',
                    { 'data-user-id': u.id },
                    h('th', { scope: 'row' }, userLabel(u)),
                    h('td', null, u.email ?? ''),
                    h('td', null, u.region),
                    h('td', null, h('button', { type: 'button', class: 'btn btn-small', onclick: () => void removeUser(u), 'aria-label': `Remove ${userLabel(u)} from ${p.name}` }, 'Remove')),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No users on this provider yet.'),
    );
    picker = userPicker(everyone, { legend: 'Add users', target: p, exclude: (u) => u.providerId === p.id });
    replace(pickerSlot, picker.el);
  };

  const removeUser = async (u: User) => {
    usersAlert.clear();
    const ok = await confirmDialog({
      title: `Remove ${userLabel(u)} from ${p.name}?`,
      body: h('p', null, `${userLabel(u)} will have no telephony provider until you add them to one.`),
      confirm: 'Remove user',
      danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', `/v1/providers/${enc(p.id)}/users/${enc(u.id)}`);
      toast(`${userLabel(u)} removed from ${p.name}.`);
      await drawUsers();
    } catch (err) {
      usersAlert.show(errorText(err, { target: p.name, users: usersById }));
    }
  };

  const addBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add selected users');
  const addForm = h('form', { novalidate: true, class: 'add-users' }, pickerSlot, h('div', { class: 'actions' }, addBtn));
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    usersAlert.clear();
    addResult.replaceChildren();
    const ids = picker.selected();
    if (!ids.length) {
      usersAlert.show('Select at least one user to add.');
      return;
    }
    addBtn.disabled = true;
    try {
      const r = await api<AssignResult>('POST', `/v1/providers/${enc(p.id)}/users`, { userIds: ids });
      if (r.assigned.length) toast(`${plural(r.assigned.length, 'user')} added to ${p.name}.`);
      await drawUsers();
      replace(addResult, r.assigned.length ? h('p', { class: 'ok-text' }, `${plural(r.assigned.length, 'user')} added.`) : null, conflictList(r.conflicts, p.name, usersById));
    } catch (err) {
      // a single user who conflicts is answered 409 / 422 with the reason
      usersAlert.show(errorText(err, { target: p.name, users: usersById }));
    } finally {
      addBtn.disabled = false;
    }
  });
  replace(usersSection, h('h2', { id: 'users-h' }, 'Users'), usersAlert.el, listSlot, addForm, addResult);
  await drawUsers();

  const doUninstall = async () => {
    let fresh: Provider;
    try {
      fresh = await api<Provider>('GET', `/v1/providers/${enc(p.id)}`);
    } catch (err) {
      usersAlert.show(errorText(err, { target: p.name, users: usersById }));
      return;
    }
    const n = fresh.userCount;
    const ok = await confirmDialog({
      title: `Uninstall ${fresh.name}?`,
      body: h(
        'div',
        null,
        n
          ? h('p', { class: 'danger-text', id: 'uninstall-count' }, h('strong', null, `${plural(n, 'user')} will lose telephony.`), ' They are left without a provider until you add them to another one.')
          : h('p', { id: 'uninstall-count' }, 'No users are assigned to it; nobody loses telephony.'),
        fresh.futureUsers ? h('p', null, 'New users will no longer be assigned to it automatically.') : null,
      ),
      confirm: n ? `Uninstall and unassign ${plural(n, 'user')}` : 'Uninstall',
      danger: true,
    });
    if (!ok) return;
    try {
      await api('DELETE', `/v1/providers/${enc(p.id)}${n ? '?force=true' : ''}`);
      toast(`${fresh.name} uninstalled${n ? `; ${plural(n, 'user')} unassigned` : ''}.`);
      ctx.navigate('/installed');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'provider_has_users') {
        usersAlert.show('Users were added while you were confirming. Uninstall again to see the new count.');
      } else usersAlert.show(errorText(err, { target: p.name, users: usersById }));
    }
  };

  // the actions go in last: everything they use exists by then
  ctx.main.append(
    h('div', { class: 'actions' }, h('a', { class: 'btn', href: `/admin/installed/${enc(p.id)}/edit` }, 'Edit'), uninstall),
    h('div', { class: 'grid-2' }, summary, h('div', null, setup, config)),
    extend,
    usersSection,
  );
}

function editPage(ctx: PageContext, p: Provider, crumbs: HTMLElement): void {
  const info = kindInfo(p.kind);
  ctx.main.append(crumbs, h('h1', null, `Edit ${p.name}`));
  ctx.setTitle(`Edit ${p.name}`);
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, value: p.name });
  const priority = h('input', { type: 'number', name: 'priority', step: 1, value: String(p.priority) });
  const cfg = configForm(info.fields, p.config);
  const regions = regionsForm(p.regions);
  const future = checkbox('Assign users created from now on to this provider (future users)', p.futureUsers);
  const verify = checkbox('Check changed credentials with the provider (uncheck while it is unreachable)', true);
  const alert = alertBox();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save changes');
  const form = h(
    'form',
    { class: 'card form', novalidate: true },
    alert.el,
    h('fieldset', null, h('legend', null, `${info.title} settings`), field('Name', name), cfg.el, verify.el),
    regions.el,
    field('Priority', priority, 'When several providers take future users in a region, the lowest priority wins.'),
    future.el,
    h('div', { class: 'actions' }, save, h('a', { class: 'btn', href: `/admin/installed/${enc(p.id)}` }, 'Cancel')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.clear();
    let body: Record<string, unknown>;
    try {
      if (!name.value.trim()) throw new FormError('Name is required.', name);
      const pr = Number(priority.value || '0');
      if (!Number.isInteger(pr)) throw new FormError('Priority must be a whole number.', priority);
      body = { name: name.value.trim(), config: cfg.read(), regions: regions.read(), priority: pr, futureUsers: future.input.checked };
    } catch (err) {
      if (err instanceof FormError) {
        alert.show(err.message);
        err.input?.focus();
        return;
      }
      throw err;
    }
    save.disabled = true;
    try {
      await api('PATCH', `/v1/providers/${enc(p.id)}${verify.input.checked ? '' : '?verify=false'}`, body);
      toast(`${name.value.trim()} saved.`);
      ctx.navigate(`/installed/${enc(p.id)}`);
    } catch (err) {
      alert.show(errorText(err, { target: p.name }));
    } finally {
      save.disabled = false;
    }
  });
  ctx.main.append(form);
}
