// Preloaded into every test file's process by scripts/test.mjs. A file whose tests have all ended
// but which some leftover handle keeps alive (a BullMQ worker still finishing a job, a client
// reconnecting to a Redis a test killed) would otherwise hang the run. Node's own
// --test-force-exit does this, but with files run concurrently it drops the verdicts of a file's
// last tests from the report (nodejs/node#64833). Here the process ends only after a grace period,
// when every verdict has been sent, and says that it had to.
import { after } from 'node:test';
import { relative } from 'node:path';

const GRACE_MS = 5000;

after(() => {
  setTimeout(() => {
    const file = relative(process.cwd(), process.argv[1] ?? '?');
    process.stderr.write(`# ${file}: still running ${GRACE_MS / 1000} s after its tests ended (an open handle); ending it\n`);
    process.exit();
  }, GRACE_MS).unref();
});
