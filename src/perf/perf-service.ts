// The figures GET /v1/providers/performance and trial reports show: every provider of the org
// (those without data too, with zeros and nulls), side by side, in seconds.

import type { Provider } from '../domain/types.js';
import type { OrgConfigCache } from '../directory/org-config.js';
import { figuresOf, type Counters, type PerfFigures } from './codec.js';
import type { PerfStore, PerfWindow } from '../store/perf/port.js';

export interface ProviderFigures extends PerfFigures {
  providerId: string;
  kind: string;
  name: string;
}

export function figuresFor(providers: Array<Pick<Provider, 'id' | 'kind' | 'name'>>, counters: Map<string, Counters>): ProviderFigures[] {
  return providers.map((p) => ({ providerId: p.id, kind: p.kind, name: p.name, ...figuresOf(counters.get(p.id)) }));
}

export class PerfService {
  constructor(
    private readonly configs: OrgConfigCache,
    readonly perf: PerfStore,
  ) {}

  async performance(orgId: string, window: PerfWindow): Promise<ProviderFigures[]> {
    const [snapshot, counters] = await Promise.all([this.configs.get(orgId), this.perf.window(orgId, window)]);
    const providers = snapshot.providers();
    return figuresFor(providers, counters);
  }
}
