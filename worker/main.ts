import { runService } from '../lib/platform/runMain.js';
import { loadWorkerConfig } from './config.js';
import { createWorker } from './server.js';

runService('worker', () => loadWorkerConfig(), createWorker);
