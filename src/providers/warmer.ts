// Keeps the adapters of always-on provider kinds (SIP: each holds its drachtio connection, over
// which inbound INVITEs arrive) live on this instance: at start-up, and every round after, so a
// provider created, changed or deleted through another instance is picked up here too. Without
// it a restarted instance would take no inbound SIP call until something dialled out.
// Every instance runs it (unlike housekeeping): every instance must hold its own connections.

import type { Logger } from 'pino';
import type { Provider } from '../domain/types.js';
import type { DirectoryStore } from '../store/directory/port.js';
import type { OrgStore } from '../store/orgs/port.js';
import type { ProviderRuntime } from './runtime.js';

export interface WarmerDeps {
  orgs: Pick<OrgStore, 'listOrgIds'>;
  directory: Pick<DirectoryStore, 'listProviders'>;
  providers: Pick<ProviderRuntime, 'alwaysOnKinds' | 'keepLive'>;
  logger: Logger;
  /** how often the providers are read again (default 30 s) */
  everyMs?: number;
}

export class ProviderWarmer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: WarmerDeps) {}

  /** The first round at once (not awaited: a slow backend must not hold the start-up), then every everyMs. */
  start(): void {
    if (this.deps.providers.alwaysOnKinds().size === 0) return; // nothing to keep: no reads at all
    const tick = () => {
      if (this.stopped) return;
      this.running = this.round()
        .catch((e: Error) => this.deps.logger.warn({ err: e.message }, 'always-on provider refresh failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.deps.everyMs ?? 30_000).unref();
        });
    };
    tick();
  }

  /** Reads every org's providers and hands those of always-on kinds to the runtime. */
  async round(): Promise<void> {
    const kinds = this.deps.providers.alwaysOnKinds();
    const keep: Provider[] = [];
    let cursor = '';
    for (;;) {
      const page = await this.deps.orgs.listOrgIds(cursor, 500);
      for (const orgId of page.ids) {
        for (const p of await this.deps.directory.listProviders(orgId)) if (kinds.has(p.kind)) keep.push(p);
      }
      if (!page.next || this.stopped) break;
      cursor = page.next;
    }
    if (!this.stopped) await this.deps.providers.keepLive(keep);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
