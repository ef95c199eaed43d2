// The storage contract on a Redis Cluster (the throwaway 3-master one of `npm test`), then what
// only Redis shows (./contract/redis-specifics.ts) and what only a cluster shows: every master,
// and a reshard under load (./contract/cluster-specifics.ts).
import { backendFactory } from './contract/backends.js';
import { runClusterSpecifics } from './contract/cluster-specifics.js';
import { runAllContracts } from './contract/index.js';
import { runRedisSpecifics } from './contract/redis-specifics.js';

const f = backendFactory('cluster');
runAllContracts(f, () => {
  runClusterSpecifics(f);
  runRedisSpecifics(f); // last: its final case checks every key the whole file wrote
});
