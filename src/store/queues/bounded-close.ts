// Closing BullMQ parts without hanging: Worker.close() and Queue.close() wait for their Redis
// connections, which never come back while Redis is unreachable (or after it was restarted under
// a blocked connection), and meanwhile BullMQ's stalled-job and lock timers and ioredis'
// reconnect timers keep the process alive. So: a graceful close (the job in hand finishes),
// bounded; past the bound, cut the connections. A job cut off this way is picked up again
// by the next worker once its lock expires (BullMQ's stalled-job check).

import type { Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';

export async function closeBullParts(parts: { worker?: Worker | null; queue: Queue; conn?: Redis | Cluster }, graceMs = 2500): Promise<void> {
  const { worker, queue, conn } = parts;
  const graceful = (async () => {
    await worker?.close();
    await queue.close();
    await conn?.quit();
  })().then(
    () => true,
    () => false,
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), graceMs);
  });
  const clean = await Promise.race([graceful, timedOut]);
  clearTimeout(timer);
  if (clean) return;
  // Worker.close(true) would only return the graceful close already under way; cutting the
  // connections is what unblocks it (the blocked fetch fails, the close completes and stops
  // BullMQ's timers) and what stops ioredis reconnecting. These may never settle: not awaited.
  worker?.disconnect().catch(() => {});
  // the Worker's own blocking connection: Worker.disconnect() first awaits that client's start,
  // which never comes while Redis is unreachable, so it is cut here directly (BullMQ internals:
  // worker.backend.blockingConnection._client, an ioredis client)
  const blocking = (worker as unknown as { backend?: { blockingConnection?: { _client?: { disconnect?: () => void } } } } | null | undefined)?.backend?.blockingConnection?._client;
  blocking?.disconnect?.();
  queue.disconnect().catch(() => {});
  conn?.disconnect();
  const settle = new Promise<void>((r) => setTimeout(r, 1000).unref());
  await Promise.race([graceful, settle]);
}
