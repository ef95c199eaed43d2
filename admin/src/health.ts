import type { Provider } from './api.js';
import { h } from './dom.js';

// the gateway reports its circuit breaker state per provider
const LABEL: Record<string, [string, string]> = {
  closed: ['Healthy', 'ok'],
  'half-open': ['Recovering', 'warn'],
  open: ['Failing: dials paused', 'bad'],
};

export function healthBadge(p: Provider): HTMLElement {
  const st = String(p.health?.state ?? 'unknown');
  const [label, tone] = LABEL[st] ?? ['Unknown', 'muted'];
  return h('span', { class: `badge badge-${tone}` }, label);
}

export function scopeText(p: Provider): string {
  return `${p.scope === 'all' ? 'All users' : 'Specific users'}${p.futureUsers ? ' + future users' : ''}`;
}
