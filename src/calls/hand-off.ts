// The hand-off of an ended call's log, or of one change after it, to the call-log queue. Both are
// already recorded in the backend (the outbox, the update outbox) by the step that made them due,
// so an enqueue lost here is enqueued again by housekeeping; when Redis blinks (a master
// restarting, a failover) it is also tried again in the background for a while, so the CRM hears
// seconds after Redis is back rather than at housekeeping's next round. Enqueuing twice is
// harmless: the job id is the call's or the change's, and the worker looks at the call first.

import type { Logger } from 'pino';
import type { CallLogQueue, LogUpdateRef } from '../store/queues/port.js';

/** Waits between background retries of a failed enqueue (about 30 s in all). */
const HAND_OFF_RETRY_MS = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000];

/** Enqueues the call's log (or, with `update`, that change); resolves after the first try. */
export async function handOff(queue: Pick<CallLogQueue, 'enqueue'>, logger: Logger, orgId: string, callId: string, update?: LogUpdateRef): Promise<void> {
  const attempt = async (n: number): Promise<void> => {
    try {
      await queue.enqueue(orgId, callId, update);
    } catch (e) {
      const delay = HAND_OFF_RETRY_MS[n];
      if (delay === undefined) {
        logger.warn({ orgId, callId, group: update?.group, err: (e as Error).message }, `${update ? 'CRM update' : 'call-log'} enqueue failed; housekeeping will enqueue it again`);
        return;
      }
      setTimeout(() => void attempt(n + 1), delay).unref();
    }
  };
  await attempt(0);
}
