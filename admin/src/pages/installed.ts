// Installed providers: user counts, scope, regions and health at a glance.

import { h, replace } from '../dom.js';
import { healthBadge, scopeText } from '../health.js';
import { kindInfo } from '../kinds.js';
import { refreshProviders, regionsText } from '../state.js';
import type { PageContext } from './page.js';

export async function installedPage(ctx: PageContext): Promise<void> {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  ctx.main.append(h('h1', null, 'Installed providers'), body);
  ctx.setTitle('Installed providers');
  const providers = await refreshProviders();
  if (!providers.length) {
    replace(body, h('p', null, 'No provider is installed yet. ', h('a', { href: '/admin/providers' }, 'Install one from the marketplace'), '.'));
    return;
  }
  const total = providers.reduce((n, p) => n + p.userCount, 0);
  replace(
    body,
    h('p', { class: 'lead' }, `${providers.length} installed, ${total} users assigned in all.`),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table', id: 'installed-table' },
        h('caption', { class: 'sr-only' }, 'Installed providers'),
        h('thead', null, h('tr', null, ['Name', 'Kind', 'Installed for', 'Users', 'Regions', 'Priority', 'Health'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          null,
          providers.map((p) =>
            h(
              'tr',
              { 'data-provider-id': p.id },
              h('th', { scope: 'row' }, h('a', { href: `/admin/installed/${encodeURIComponent(p.id)}` }, p.name)),
              h('td', null, kindInfo(p.kind).title),
              h('td', null, scopeText(p)),
              h('td', { class: 'num', 'data-col': 'users' }, String(p.userCount)),
              h('td', null, regionsText(p.regions)),
              h('td', { class: 'num' }, String(p.priority)),
              h('td', null, healthBadge(p)),
            ),
          ),
        ),
      ),
    ),
  );
}
