// The console's shell: sign-in gate, navigation, client-side routing under /admin, and the live
// event feed shared by every page.

import { setUnauthorizedHandler } from './api.js';
import { h, replace } from './dom.js';
import { LiveFeed, type CallEvent } from './events.js';
import { clearNotifications, mountNotifications, screenPop, updatePop } from './notify.js';
import { clearKey, getKey } from './session.js';
import { state } from './state.js';
import { callsPage } from './pages/calls.js';
import { figuresPage } from './pages/figures.js';
import { installedPage } from './pages/installed.js';
import { installPage, marketplacePage } from './pages/marketplace.js';
import { providerPage } from './pages/provider.js';
import { signInPage } from './pages/signin.js';
import { usersPage } from './pages/users.js';
import type { PageContext } from './pages/page.js';

const BASE = '/admin';

type Render = (ctx: PageContext, params: string[]) => void | Promise<void>;

const routes: Array<{ re: RegExp; render: Render; nav: string }> = [
  { re: /^\/?$/, render: (c) => c.navigate('/providers', true), nav: 'providers' },
  { re: /^\/providers\/?$/, render: (c) => marketplacePage(c), nav: 'providers' },
  { re: /^\/providers\/new\/([^/]+)$/, render: (c, p) => installPage(c, p[0]), nav: 'providers' },
  { re: /^\/installed\/?$/, render: (c) => installedPage(c), nav: 'installed' },
  { re: /^\/installed\/([^/]+)$/, render: (c, p) => providerPage(c, p[0], false), nav: 'installed' },
  { re: /^\/installed\/([^/]+)\/edit$/, render: (c, p) => providerPage(c, p[0], true), nav: 'installed' },
  { re: /^\/users\/?$/, render: (c) => usersPage(c), nav: 'users' },
  { re: /^\/calls\/?$/, render: (c) => callsPage(c), nav: 'calls' },
  { re: /^\/figures\/?$/, render: (c) => figuresPage(c), nav: 'figures' },
];

const NAV: Array<[string, string]> = [
  ['providers', 'Marketplace'],
  ['installed', 'Installed'],
  ['users', 'Users'],
  ['calls', 'Live calls'],
  ['figures', 'Provider figures'],
];

const feed = new LiveFeed((ev: CallEvent) => {
  if (!ev.call) return;
  if (ev.type === 'call.incoming') screenPop(ev.call);
  else if (ev.type === 'call.matched') updatePop(ev.call, ev.match ?? null);
  else if (ev.type === 'call.status') updatePop(ev.call);
});

const app = document.getElementById('app') as HTMLElement;
// the page is redrawn in `view`; the notification regions stay put so pops survive navigation
const view = h('div', { class: 'view' });
app.append(view);
mountNotifications(app);
let current: AbortController | null = null;

function subPath(): string {
  const p = location.pathname;
  return p.startsWith(BASE) ? p.slice(BASE.length) || '/' : '/';
}

function navigate(path: string, replaceState = false): void {
  const url = BASE + path;
  if (replaceState) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  void render(true);
}

function signOut(message?: string): void {
  clearKey();
  feed.stop();
  clearNotifications();
  state.providers = [];
  history.replaceState(null, '', BASE + '/');
  void render(false, message);
}

setUnauthorizedHandler(() => signOut('The gateway refused the API key (it may have been revoked). Sign in again.'));

function shell(navKey: string): { main: HTMLElement } {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const status = h('span', { class: 'feed-state', id: 'feed-state' });
  const drawFeed = () => {
    status.textContent = feed.state === 'live' ? 'Live events: connected' : feed.state === 'connecting' ? 'Live events: connecting…' : 'Live events: reconnecting…';
    status.className = `feed-state feed-${feed.state}`;
  };
  feed.subscribe(drawFeed);
  drawFeed();
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h('p', { class: 'brand' }, 'dialgate ', h('span', null, 'Setup → Channels → Telephony')),
    status,
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => signOut() }, 'Sign out'),
  );
  const nav = h(
    'nav',
    { 'aria-label': 'Telephony' },
    h('ul', null, NAV.map(([key, label]) => h('li', null, h('a', { href: `${BASE}/${key}`, 'aria-current': key === navKey ? 'page' : null }, label)))),
  );
  replace(view, header, nav, main);
  return { main };
}

async function render(moveFocus: boolean, signInMessage?: string): Promise<void> {
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  const key = getKey();
  if (!key) {
    const main = h('main', { id: 'main', tabindex: '-1', class: 'signin-main' });
    replace(view, main);
    signInPage(main, signInMessage, () => {
      const wanted = subPath();
      navigate(wanted === '/' ? '/providers' : wanted, true);
    });
    return;
  }
  feed.ensure(key);
  const path = subPath();
  const route = routes.find((r) => r.re.test(path));
  const { main } = shell(route?.nav ?? '');
  const ctx: PageContext = {
    main,
    signal: ctl.signal,
    feed,
    navigate,
    setTitle(title: string) {
      document.title = `${title} · dialgate admin`;
      const h1 = main.querySelector('h1');
      if (moveFocus && h1) {
        h1.setAttribute('tabindex', '-1');
        h1.focus();
      }
    },
  };
  if (!route) {
    replace(main, h('h1', null, 'Page not found'), h('p', null, 'There is no such page in the console. ', h('a', { href: `${BASE}/providers` }, 'Go to the marketplace')));
    ctx.setTitle('Not found');
    return;
  }
  try {
    await route.render(ctx, route.re.exec(path)!.slice(1).map(decodeURIComponent));
  } catch (e) {
    if (ctl.signal.aborted) return;
    replace(main, h('h1', null, 'Something went wrong'), h('div', { class: 'alert alert-error', role: 'alert' }, (e as Error).message));
  }
}

// same-origin links inside the console navigate without a reload
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith(BASE + '/') || a.target) return;
  e.preventDefault();
  navigate(href.slice(BASE.length));
});
window.addEventListener('popstate', () => void render(true));

void render(false);
