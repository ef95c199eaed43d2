// Live calls: recent calls from the API, kept current by the events WebSocket; incoming calls
// also pop up (see notify.ts) on whatever page is open. A small click-to-call form places a
// test call through the user's provider.

import { all, api, type Call, type Page, type User } from '../api.js';
import { fmtTime, h, replace } from '../dom.js';
import { alertBox, errorText, field, userLabel } from '../forms.js';
import { toast } from '../notify.js';
import { providerName, refreshProviders } from '../state.js';
import type { PageContext } from './page.js';

const ENDED = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);

function statusBadge(status: string): HTMLElement {
  const tone = status === 'answered' ? 'ok' : status === 'completed' ? 'muted' : ENDED.has(status) ? 'bad' : 'warn';
  return h('span', { class: `badge badge-${tone}`, 'data-status': status }, status);
}

export async function callsPage(ctx: PageContext): Promise<void> {
  const feedNote = h('p', { class: 'muted', id: 'feed-note' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table', id: 'calls-table' },
    h('caption', { class: 'sr-only' }, 'Recent and live calls, newest first'),
    h('thead', null, h('tr', null, ['Started', 'Direction', 'User', 'From', 'To', 'Provider', 'Status', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody,
  );
  ctx.main.append(h('h1', null, 'Live calls'), feedNote);
  ctx.setTitle('Live calls');

  const draw = () => {
    feedNote.textContent =
      ctx.feed.state === 'live' ? 'Updating live as calls progress.' : ctx.feed.state === 'connecting' ? 'Connecting to the live event feed…' : 'The live feed is disconnected; reconnecting. The table may be out of date.';
    const calls = [...ctx.feed.calls.values()].filter((c) => !c.trial).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    replace(
      tbody,
      calls.length
        ? calls.slice(0, 100).map((c) =>
            h(
              'tr',
              { 'data-call-id': c.id, class: ENDED.has(c.status) ? 'ended' : 'active' },
              h('td', null, fmtTime(c.createdAt)),
              h('td', null, c.direction === 'inbound' ? 'Inbound' : 'Outbound'),
              h('td', null, c.userId),
              h('td', null, c.from ?? ''),
              h('td', null, c.to),
              h('td', null, providerName(c.providerId), c.failedOverFrom ? h('span', { class: 'muted' }, ` (failed over from ${providerName(c.failedOverFrom)})`) : null),
              h('td', null, statusBadge(c.status)),
              h('td', { class: 'num' }, c.durationSec !== undefined ? `${Math.round(c.durationSec)} s` : ''),
            ),
          )
        : h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No calls yet. Calls show here as soon as they start.')),
    );
  };
  const unsubscribe = ctx.feed.subscribe(draw);
  ctx.signal.addEventListener('abort', unsubscribe);

  // ---- click-to-call -----------------------------------------------------------------------
  const alert = alertBox();
  const userSel = h('select', { id: 'call-user', required: true });
  const to = h('input', { type: 'tel', id: 'call-to', required: true, placeholder: '+1 555 0100', autocomplete: 'off' });
  const dial = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Call');
  const form = h(
    'form',
    { class: 'card inline-form', novalidate: true, 'aria-labelledby': 'c2c-h' },
    h('h2', { id: 'c2c-h' }, 'Place a call'),
    h('p', { class: 'muted' }, "Rings the user's phone through their provider, then the number."),
    alert.el,
    h('div', { class: 'filters' }, field('User', userSel), field('Number to call', to)),
    h('div', { class: 'actions' }, dial),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.clear();
    if (!userSel.value || !to.value.trim()) return alert.show('Choose a user and enter a number.');
    dial.disabled = true;
    try {
      // one key per submission: if the request is retried, the gateway dials once
      const c = await api<Call>('POST', '/v1/calls', { userId: userSel.value, to: to.value.trim() }, { headers: { 'idempotency-key': crypto.randomUUID() } });
      ctx.feed.seed([c]);
      toast(`Calling ${c.to} for ${c.userId}.`);
    } catch (err) {
      alert.show(errorText(err));
    } finally {
      dial.disabled = false;
    }
  });

  ctx.main.append(h('div', { class: 'table-wrap' }, table), form);
  draw();

  const [recent, users] = await Promise.all([api<Page<Call>>('GET', '/v1/calls?limit=100'), all<User>('/v1/users'), refreshProviders()]);
  if (ctx.signal.aborted) return;
  ctx.feed.seed(recent.items);
  const callable = users.filter((u) => u.providerId);
  replace(
    userSel,
    h('option', { value: '' }, callable.length ? 'Choose a user…' : 'No user has a provider yet'),
    callable.map((u) => h('option', { value: u.id }, `${userLabel(u)} · ${providerName(u.providerId)}`)),
  );
}
