// The storage contract on one Redis (the throwaway redis-server of `npm test`), then what only
// Redis shows (./contract/redis-specifics.ts).
import { backendFactory } from './contract/backends.js';
import { runAllContracts } from './contract/index.js';
import { runRedisSpecifics } from './contract/redis-specifics.js';

const f = backendFactory('redis');
runAllContracts(f, () => runRedisSpecifics(f));
