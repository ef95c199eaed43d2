// `npm run worker`: the call-log worker as its own process, on the same queue as the gateways
// (REDIS_URL required). SIGTERM lets running jobs finish, then exits.
import { Redis } from 'ioredis';
import pino from 'pino';
import { crmKinds } from '../adapters/registry.js';
import { ConfigError, loadConfig } from './config/config.js';
import { startCallLogWorker } from './jobs/worker-main.js';
import { RedisStore } from './store/redis/redis-store.js';

function main(): void {
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
  const redis = new Redis(config.redisUrl!, { connectionName: 'dialgate-worker-store', maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on('error', (e: Error) => logger.warn({ err: e.message }, 'redis connection error'));
  const store = new RedisStore(redis, { keyPrefix: process.env.DIALGATE_KEY_PREFIX });
  const worker = startCallLogWorker({
    store,
    crmKinds,
    logger,
    redisUrl: config.redisUrl,
    prefix: process.env.DIALGATE_QUEUE_PREFIX_OVERRIDE ?? config.queuePrefix,
    concurrency: config.workerConcurrency,
  });
  logger.info({ concurrency: config.workerConcurrency }, 'call-log worker started');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('worker stopping: finishing running jobs');
    const hard = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
    hard.unref();
    worker
      .close()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
