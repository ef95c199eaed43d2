// Live calls: recent calls from the API, kept current by the events WebSocket; incoming calls
// also pop up (see notify.ts) on whatever page is open. Missed calls are marked; a call's
// recording and voicemail play in the row (the gateway's signed link) and its wrap-up (disposition,
// subject, notes) shows beside them. A small click-to-call form places a test call through the
// user's provider.

import { all, api, type Call, type Media, type Page, type User } from '../api.js';
import { fmtTime, h, replace, type Child } from '../dom.js';
import { alertBox, errorText, field, userLabel } from '../forms.js';
import { toast } from '../notify.js';
import { providerName, refreshProviders } from '../state.js';
import type { PageContext } from './page.js';

const ENDED = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);

function statusBadge(status: string): HTMLElement {
  const tone = status === 'answered' ? 'ok' : status === 'completed' ? 'muted' : ENDED.has(status) ? 'bad' : 'warn';
  return h('span', { class: `badge badge-${tone}`, 'data-status': status }, status);
}

const MEDIA_TITLE = { recording: 'Recording', voicemail: 'Voicemail' } as const;
const NOTES_SHOWN = 140;

/**
 * A recording or voicemail: a player and a link once available, else where it stands. Players are
 * kept across redraws (the table is redrawn on every event): a node moved back at once keeps
 * playing, where a new one would cut the audio off.
 */
function mediaCell(c: Call, kind: keyof typeof MEDIA_TITLE, players: Map<string, HTMLElement>, drawn: Set<string>): Child {
  const m: Media | undefined = c[kind];
  if (!m) return null;
  const title = MEDIA_TITLE[kind];
  if (m.status !== 'available' || !m.url) {
    return h('div', { class: 'muted', 'data-media': kind, 'data-media-status': m.status }, m.status === 'pending' ? `${title} pending…` : `${title} ${m.status}`);
  }
  const id = `${kind}|${m.url}`;
  drawn.add(id);
  let el = players.get(id);
  if (!el) {
    const label = `${title} of the call ${c.direction === 'inbound' ? 'from' : 'to'} ${c.direction === 'inbound' ? (c.from ?? 'an unknown number') : c.to}`;
    const secs = m.durationSec !== undefined ? ` (${Math.round(m.durationSec)} s)` : '';
    el = h(
      'div',
      { class: 'media', 'data-media': kind, 'data-media-status': 'available' },
      h('audio', { controls: true, preload: 'metadata', src: m.url, 'aria-label': label }),
      h('a', { href: m.url, target: '_blank', rel: 'noopener' }, `${title}${secs}`),
    );
    players.set(id, el);
  }
  return el;
}

/** The agent's wrap-up: disposition, subject, notes (long notes cut, in full on hover). */
function wrapupCell(c: Call): Child {
  if (!c.disposition && !c.subject && !c.notes) return null;
  const notes = c.notes && c.notes.length > NOTES_SHOWN ? `${c.notes.slice(0, NOTES_SHOWN)}…` : c.notes;
  return h(
    'div',
    { class: 'wrapup', 'data-wrapup': '' },
    c.disposition ? h('span', { class: 'badge badge-muted', 'data-disposition': c.disposition }, c.disposition) : null,
    c.subject ? h('strong', null, ` ${c.subject}`) : null,
    notes ? h('p', { class: 'notes', title: c.notes ?? '' }, notes) : null,
  );
}

export async function callsPage(ctx: PageContext): Promise<void> {
  const feedNote = h('p', { class: 'muted', id: 'feed-note' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table', id: 'calls-table' },
    h('caption', { class: 'sr-only' }, 'Recent and live calls, newest first'),
    h('thead', null, h('tr', null, ['Started', 'Direction', 'User', 'From', 'To', 'Provider', 'Status', 'Duration', 'Recording and notes'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody,
  );
  ctx.main.append(h('h1', null, 'Live calls'), feedNote);
  ctx.setTitle('Live calls');

  const players = new Map<string, HTMLElement>();
  const draw = () => {
    const drawn = new Set<string>();
    feedNote.textContent =
      ctx.feed.state === 'live' ? 'Updating live as calls progress.' : ctx.feed.state === 'connecting' ? 'Connecting to the live event feed…' : 'The live feed is disconnected; reconnecting. The table may be out of date.';
    const calls = [...ctx.feed.calls.values()].filter((c) => !c.trial).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    replace(
      tbody,
      calls.length
        ? calls.slice(0, 100).map((c) =>
            h(
              'tr',
              { 'data-call-id': c.id, class: `${ENDED.has(c.status) ? 'ended' : 'active'}${c.missed ? ' missed' : ''}` },
              h('td', null, fmtTime(c.createdAt)),
              h('td', null, c.direction === 'inbound' ? 'Inbound' : 'Outbound'),
              h('td', null, c.userId),
              h('td', null, c.from ?? ''),
              h('td', null, c.to),
              h('td', null, providerName(c.providerId), c.failedOverFrom ? h('span', { class: 'muted' }, ` (failed over from ${providerName(c.failedOverFrom)})`) : null),
              h('td', null, statusBadge(c.status), c.missed ? [' ', h('span', { class: 'badge badge-bad', 'data-missed': '' }, 'Missed')] : null),
              h('td', { class: 'num' }, c.durationSec !== undefined ? `${Math.round(c.durationSec)} s` : ''),
              h('td', { class: 'call-extra' }, mediaCell(c, 'recording', players, drawn), mediaCell(c, 'voicemail', players, drawn), wrapupCell(c)),
            ),
          )
        : h('tr', null, h('td', { colspan: 9, class: 'muted' }, 'No calls yet. Calls show here as soon as they start.')),
    );
    // players of calls no longer shown go (the feed keeps a bounded number of calls)
    for (const id of players.keys()) if (!drawn.has(id)) players.delete(id);
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
