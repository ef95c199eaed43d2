// Users: search, filter by provider and region, add to / remove from a provider, and move to
// another provider in one atomic step. Conflicts come back as messages that name the provider.

import { all, api, enc, type AssignResult, type Provider, type User } from '../api.js';
import { h, plural, replace, uid } from '../dom.js';
import { alertBox, conflictList, errorText, field, userLabel } from '../forms.js';
import { toast } from '../notify.js';
import { providerName, refreshProviders, serves, state } from '../state.js';
import type { PageContext } from './page.js';

function providerOptions(u: User, providers: Provider[], placeholder: string): HTMLOptionElement[] {
  return [
    h('option', { value: '' }, placeholder),
    ...providers
      .filter((p) => p.id !== u.providerId)
      .map((p) => h('option', { value: p.id }, serves(p, u.region) ? p.name : `${p.name} (does not serve ${u.region})`)),
  ];
}

export async function usersPage(ctx: PageContext): Promise<void> {
  ctx.main.append(h('h1', null, 'Users'));
  ctx.setTitle('Users');
  const [users] = await Promise.all([all<User>('/v1/users'), refreshProviders()]);
  if (ctx.signal.aborted) return;
  let list = users;

  const search = h('input', { type: 'search', id: 'user-search', placeholder: 'Name, id or email', autocomplete: 'off' });
  const byProvider = h('select', { id: 'filter-provider' });
  const byRegion = h('select', { id: 'filter-region' });
  const fillFilters = () => {
    const pv = byProvider.value;
    const rv = byRegion.value;
    replace(
      byProvider,
      h('option', { value: '' }, 'Any provider'),
      h('option', { value: '-' }, 'No provider'),
      state.providers.map((p) => h('option', { value: p.id }, p.name)),
    );
    const regions = [...new Set(list.map((u) => u.region))].sort();
    replace(byRegion, h('option', { value: '' }, 'Any region'), regions.map((r) => h('option', { value: r }, r)));
    byProvider.value = pv;
    byRegion.value = rv;
  };
  fillFilters();

  const alert = alertBox();
  const result = h('div', { class: 'result-slot' });
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', id: 'users-summary' });
  const tbody = h('tbody');

  const reload = async () => {
    [list] = await Promise.all([all<User>('/v1/users'), refreshProviders()]);
    fillFilters();
    draw();
  };

  const act = async (label: string, user: User, fn: () => Promise<string>) => {
    alert.clear();
    result.replaceChildren();
    try {
      toast(await fn());
      await reload();
    } catch (err) {
      alert.show(errorText(err, { target: label, user }));
    }
  };

  const row = (u: User): HTMLTableRowElement => {
    const current = u.providerId ? state.providers.find((p) => p.id === u.providerId) : undefined;
    const cells: HTMLElement[] = [];
    if (u.providerId) {
      const sel = h('select', { id: uid('move'), 'aria-label': `Move ${userLabel(u)} to` }, providerOptions(u, state.providers, 'Move to…'));
      cells.push(
        h('div', { class: 'row-actions' },
          sel,
          h('button', {
            type: 'button',
            class: 'btn btn-small btn-primary',
            'aria-label': `Move ${userLabel(u)}`,
            onclick: () => {
              if (!sel.value) return alert.show(`Choose the provider to move ${userLabel(u)} to.`);
              const target = providerName(sel.value);
              return act(target, u, async () => {
                await api<User>('POST', `/v1/users/${enc(u.id)}/move`, { providerId: sel.value });
                return `${userLabel(u)} moved from ${providerName(u.providerId)} to ${target}.`;
              });
            },
          }, 'Move'),
          h('button', {
            type: 'button',
            class: 'btn btn-small',
            'aria-label': `Remove ${userLabel(u)} from ${providerName(u.providerId)}`,
            onclick: () =>
              act(providerName(u.providerId), u, async () => {
                await api('DELETE', `/v1/providers/${enc(u.providerId!)}/users/${enc(u.id)}`);
                return `${userLabel(u)} removed from ${providerName(u.providerId)}; they have no provider now.`;
              }),
          }, 'Remove'),
        ),
      );
    } else {
      const sel = h('select', { id: uid('add'), 'aria-label': `Add ${userLabel(u)} to` }, providerOptions(u, state.providers, 'Add to…'));
      cells.push(
        h('div', { class: 'row-actions' },
          sel,
          h('button', {
            type: 'button',
            class: 'btn btn-small btn-primary',
            'aria-label': `Add ${userLabel(u)}`,
            onclick: () => {
              if (!sel.value) return alert.show(`Choose the provider to add ${userLabel(u)} to.`);
              const target = providerName(sel.value);
              return act(target, u, async () => {
                const r = await api<AssignResult>('POST', `/v1/providers/${enc(sel.value)}/users`, { userIds: [u.id] });
                if (r.conflicts.length) replace(result, conflictList(r.conflicts, target, new Map([[u.id, u]])));
                return r.assigned.length ? `${userLabel(u)} added to ${target}.` : `${userLabel(u)} was not added.`;
              });
            },
          }, 'Add'),
        ),
      );
    }
    return h(
      'tr',
      { 'data-user-id': u.id },
      h('th', { scope: 'row' }, userLabel(u)),
      h('td', null, u.email ?? ''),
      h('td', null, u.region),
      h('td', { 'data-col': 'provider' }, current ? current.name : h('span', { class: 'muted' }, 'None')),
      h('td', null, cells),
    );
  };

  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const pv = byProvider.value;
    const rv = byRegion.value;
    const shown = list.filter(
      (u) =>
        (!q || [u.id, u.name ?? '', u.email ?? ''].some((x) => x.toLowerCase().includes(q))) &&
        (!pv || (pv === '-' ? !u.providerId : u.providerId === pv)) &&
        (!rv || u.region === rv),
    );
    const page = shown.slice(0, 300);
    summary.textContent = `Showing ${page.length} of ${plural(list.length, 'user')}${shown.length > page.length ? ' (refine the search to see the rest)' : ''}.`;
    replace(tbody, page.length ? page.map(row) : h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No user matches these filters.')));
  };
  search.addEventListener('input', draw);
  byProvider.addEventListener('change', draw);
  byRegion.addEventListener('change', draw);
  draw();

  ctx.main.append(
    h('p', { class: 'lead' }, 'A user has one provider at a time. Move switches a user to another provider in one step, so they are never left with none or two.'),
    h('div', { class: 'filters', role: 'search' }, field('Search', search), field('Provider', byProvider), field('Region', byRegion)),
    alert.el,
    result,
    summary,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table', id: 'users-table' },
        h('caption', { class: 'sr-only' }, 'Users and their providers'),
        h('thead', null, h('tr', null, ['User', 'Email', 'Region', 'Provider', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
        tbody,
      ),
    ),
  );
}
