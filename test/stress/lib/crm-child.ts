// The webhook-CRM receiver (test/fakes/webhook-crm) as its own process for the stress suite, so
// its CPU is not the gateway's or the load generator's. IPC protocol (request id `id` echoed):
//   {op:'stats'}           -> {deliveries: call ids stored, duplicates, rejected, requests}
//   {op:'outage', ms}      -> answers 503 to every valid delivery for ms from now
// Sends {url, secret} once listening; exits when the parent disconnects.

import { WebhookCrmFake } from '../../fakes/webhook-crm/server.js';

const fake = await new WebhookCrmFake().start();
process.send?.({ ready: true, url: fake.url, secret: fake.secret });

process.on('message', (m: { id: number; op: string; ms?: number }) => {
  if (m.op === 'stats') {
    process.send?.({ id: m.id, deliveries: [...fake.deliveries.keys()], duplicates: fake.duplicates, rejected: fake.rejected, requests: fake.requests });
  } else if (m.op === 'outage') {
    fake.unavailableUntil = Date.now() + (m.ms ?? 0);
    process.send?.({ id: m.id, until: fake.unavailableUntil });
  } else {
    process.send?.({ id: m.id, error: `unknown op ${m.op}` });
  }
});

process.on('disconnect', () => {
  void fake.close().then(() => process.exit(0));
});
