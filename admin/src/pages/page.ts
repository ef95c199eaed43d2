import type { LiveFeed } from '../events.js';

export interface PageContext {
  main: HTMLElement;
  /** aborted when the admin navigates away: pages stop polling and unsubscribe */
  signal: AbortSignal;
  feed: LiveFeed;
  navigate(path: string, replace?: boolean): void;
  /** Sets the document title and, after a navigation, moves focus to the page heading. */
  setTitle(title: string): void;
}
