// `npm start`: the gateway (with the call-log worker in the same process unless
// DIALGATE_IN_PROCESS_WORKER=false). Without REDIS_URL or REDIS_CLUSTER_NODES it runs in local
// mode. One of the two composition roots: the only files besides src/worker.ts that import the
// adapters' registry.
// Only the config loader is imported up front: a bad setting is reported at once, before the
// rest of the application (adapters, fastify...) is loaded.
import { ConfigError, loadConfig } from './config/config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`dialgate: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const [{ crmKinds, providerKinds }, { createGateway, createLogger }] = await Promise.all([import('../adapters/registry.js'), import('./gateway.js')]);
  const logger = createLogger(config.logLevel);
  if (config.adminTokenGenerated) {
    // shown once so the operator can create the first org; set DIALGATE_ADMIN_TOKEN to choose it
    process.stdout.write(`dialgate: generated operator token for this run: ${config.adminToken}\n`);
  }
  const gateway = await createGateway({ config, providerKinds, crmKinds, logger });
  if (gateway.parts.backend.kind === 'memory') {
    logger.warn('local mode: no REDIS_URL or REDIS_CLUSTER_NODES, so data lives in memory — single instance, not durable, lost on restart');
  }
  const url = await gateway.listen();
  logger.info({ url, publicUrl: gateway.publicUrl(), backend: gateway.parts.backend.kind }, 'dialgate listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    // at once, before anything else: a load balancer polling /readyz stops sending new work
    gateway.startDraining();
    const hard = setTimeout(() => {
      logger.error('shutdown took longer than the limit; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hard.unref();
    // a short grace on open connections: a load balancer may still send for a moment
    gateway.close({ drainGraceMs: 2000 }).then(
      () => {
        logger.info('shut down cleanly');
        process.exit(0);
      },
      (e: Error) => {
        logger.error({ err: e.message }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: Error) => {
  process.stderr.write(`dialgate: failed to start: ${e.message}\n`);
  process.exit(1);
});
