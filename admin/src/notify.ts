// Notifications: short confirmations in a polite live region, and screen-pop cards for incoming
// calls in an assertive one (an incoming call is worth interrupting a screen reader for).

import type { Call } from './api.js';
import { h, replace } from './dom.js';
import { providerName } from './state.js';

let toasts: HTMLElement | null = null;
let pops: HTMLElement | null = null;

export function mountNotifications(root: HTMLElement): void {
  toasts = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
  pops = h('section', { id: 'screen-pops', class: 'pops', 'aria-live': 'assertive', 'aria-label': 'Incoming calls' });
  root.append(toasts, pops);
}

export function toast(message: string, kind: 'ok' | 'info' = 'ok'): void {
  if (!toasts) return;
  const el = h('p', { class: `toast toast-${kind}` }, message);
  toasts.append(el);
  // a short stack: older confirmations make way instead of covering the page
  while (toasts.children.length > 2) toasts.firstElementChild?.remove();
  setTimeout(() => el.remove(), 4000);
}

const popCards = new Map<string, HTMLElement>();

function popBody(call: Call, match?: unknown): HTMLElement[] {
  const m = match as { name?: string; module?: string; id?: string; record?: { name?: string; module?: string } } | null | undefined;
  const who = m ? (m.name ?? m.record?.name ?? 'a CRM record') : null;
  return [
    h('p', { class: 'pop-title' }, 'Incoming call from ', h('strong', null, call.from ?? 'unknown number')),
    h('p', null, `To ${call.userId} on ${providerName(call.providerId)} · ${call.to}`),
    match === undefined ? h('p', { class: 'muted' }, 'Looking up the caller in the CRM…') : h('p', null, who ? `CRM match: ${who}` : 'No CRM match for this number.'),
    h('p', { class: 'pop-status' }, `Status: ${call.status}`),
  ];
}

export function screenPop(call: Call, match?: unknown): void {
  if (!pops) return;
  let card = popCards.get(call.id);
  if (!card) {
    const body = h('div', { class: 'pop-body' });
    card = h(
      'article',
      { class: 'pop', 'data-call-id': call.id, 'aria-label': `Incoming call from ${call.from ?? 'unknown number'}` },
      body,
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => dismiss(call.id) }, 'Dismiss'),
    );
    popCards.set(call.id, card);
    pops.prepend(card);
    // stale pops are noise: they go by themselves after a minute
    setTimeout(() => dismiss(call.id), 60_000);
  }
  replace(card.querySelector('.pop-body') as HTMLElement, popBody(call, match));
}

export function updatePop(call: Call, match?: unknown): void {
  const card = popCards.get(call.id);
  if (!card) return;
  if (match !== undefined) replace(card.querySelector('.pop-body') as HTMLElement, popBody(call, match));
  else {
    const st = card.querySelector('.pop-status');
    if (st) st.textContent = `Status: ${call.status}`;
  }
}

function dismiss(id: string): void {
  popCards.get(id)?.remove();
  popCards.delete(id);
}

export function clearNotifications(): void {
  for (const id of [...popCards.keys()]) dismiss(id);
  toasts?.replaceChildren();
}
