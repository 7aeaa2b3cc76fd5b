import { createLogger } from '../lib/platform/logger.js';
import { runMain } from '../lib/platform/runMain.js';
import { loadWorkerConfig } from './config.js';
import { createWorker } from './server.js';

runMain('worker', async () => {
  const config = loadWorkerConfig();
  const log = createLogger('worker', config.logLevel);
  return { log, host: config.host, port: config.port, ...(await createWorker(config, log)) };
});
