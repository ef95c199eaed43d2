// `npm run worker`: the call-log worker as its own process, on the same queues as the gateways
// (REDIS_URL or REDIS_CLUSTER_NODES required). SIGTERM lets running jobs finish, then exits. One of
// the two composition roots: it imports the adapters' registry for the CRM kinds (and the provider
// kinds' price waits).
import pino from 'pino';
import { crmKinds, providerKinds } from '../adapters/registry.js';
import { ConfigError, loadConfig } from './config/config.js';
import { CRM_SETTING, CrmConnectors } from './crm/connectors.js';
import { callLogQueue, startCallLogWorker } from './jobs/pipeline.js';
import { createBackend } from './store/backend.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, 'worker');
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`dialgate worker: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = pino({ level: config.logLevel, base: { service: 'dialgate-worker' } });
  const backend = await createBackend(config.backend, { logger, keyPrefix: process.env.DIALGATE_KEY_PREFIX, role: 'worker' });
  const crm = new CrmConnectors({ kinds: crmKinds, configOf: (orgId) => backend.settings.get(orgId, CRM_SETTING), shared: backend.shared, logger });
  const queue = callLogQueue(backend, { logger });
  startCallLogWorker(queue, backend, crm, { logger, concurrency: config.workerConcurrency, providerKinds });
  logger.info({ concurrency: config.workerConcurrency, backend: backend.kind, shards: config.backend.queueShards }, 'call-log worker started');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('worker stopping: finishing running jobs');
    const hard = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
    hard.unref();
    queue
      .close()
      .then(() => backend.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: Error) => {
  process.stderr.write(`dialgate worker: failed to start: ${e.message}\n`);
  process.exit(1);
});
