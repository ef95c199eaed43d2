// The webhook receiver in its own process (benchmarks: the CRM's CPU is not the gateway's).
// Sends {url, secret} over IPC once listening; answers {deliveries, duplicates, rejected} to a
// "stats" message; exits when the parent disconnects.

import { WebhookCrmFake } from './server.js';

const fake = await new WebhookCrmFake().start();
process.send?.({ url: fake.url, secret: fake.secret });
process.on('message', (m) => {
  if (m === 'stats') process.send?.({ deliveries: fake.deliveries.size, duplicates: fake.duplicates, rejected: fake.rejected });
});
process.on('disconnect', () => {
  void fake.close().then(() => process.exit(0));
});
