// Data the pages share: the installed providers (to name them in messages) and the kinds on offer.

import { api, type Provider } from './api.js';
import { fetchKinds } from './kinds.js';

export const state = {
  providers: [] as Provider[],
  kinds: [] as string[],
};

export async function refreshProviders(): Promise<Provider[]> {
  const r = await api<{ items: Provider[] }>('GET', '/v1/providers');
  state.providers = r.items.sort((a, b) => a.name.localeCompare(b.name));
  return state.providers;
}

export async function loadKinds(): Promise<string[]> {
  if (!state.kinds.length) state.kinds = await fetchKinds();
  return state.kinds;
}

export function providerName(id: string | null | undefined): string {
  if (!id) return 'no provider';
  const p = state.providers.find((x) => x.id === id);
  return p ? p.name : id;
}

export function regionsText(r: { allow?: string[]; deny?: string[] } | undefined): string {
  const allow = r?.allow ?? [];
  const deny = r?.deny ?? [];
  if (!allow.length && !deny.length) return 'All regions';
  const parts: string[] = [];
  parts.push(allow.length ? allow.join(', ') : 'All regions');
  if (deny.length) parts.push(`except ${deny.join(', ')}`);
  return parts.join(' ');
}

/** Mirrors the gateway's rule: deny wins, then an allow list (if any) must contain the region. */
export function serves(p: Provider, region: string): boolean {
  if (p.regions?.deny?.includes(region)) return false;
  if (p.regions?.allow?.length) return p.regions.allow.includes(region);
  return true;
}
