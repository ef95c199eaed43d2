// The storage contract on the memory backend (local mode).
import { backendFactory } from './contract/backends.js';
import { runAllContracts } from './contract/index.js';

runAllContracts(backendFactory('memory'));
