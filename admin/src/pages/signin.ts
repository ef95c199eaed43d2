// Sign in with an org API key. The key is checked against the gateway, then kept in
// sessionStorage; the form posts nowhere, so the key never lands in a URL or the history.

import { api, ApiError } from '../api.js';
import { h } from '../dom.js';
import { alertBox, field } from '../forms.js';
import { setKey } from '../session.js';

export function signInPage(main: HTMLElement, message: string | undefined, done: () => void): void {
  document.title = 'Sign in · dialgate admin';
  const key = h('input', { type: 'password', name: 'apiKey', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'dgk_…' });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h(
    'form',
    // method=post: even if a script failed, the browser would never put the key in the URL
    { method: 'post', action: '#', class: 'card signin', novalidate: true },
    h('h1', null, 'dialgate admin'),
    h('p', null, 'Manage telephony providers, users and live calls for your organisation.'),
    alert.el,
    field('Org API key', key, 'The key your operator gave you when the org was created. It is kept in this browser tab only, until you sign out or close the tab.'),
    h('div', { class: 'actions' }, submit),
  );
  if (message) alert.show(message);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = key.value.trim();
    if (!value) {
      alert.show('Enter your org API key.');
      key.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await api('GET', '/v1/providers', undefined, { key: value });
      setKey(value);
      key.value = '';
      done();
    } catch (err) {
      const ae = err as ApiError;
      alert.show(ae.status === 401 ? 'That key was not accepted. Check it and try again.' : ae.message);
      key.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  main.append(form);
  key.focus();
}
