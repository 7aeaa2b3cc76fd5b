import { createLogger } from '../lib/platform/logger.js';
import { runMain } from '../lib/platform/runMain.js';
import { loadRouterConfig } from './config.js';
import { createRouterServer } from './server.js';

runMain('router', async () => {
  const config = loadRouterConfig();
  const log = createLogger('router', config.logLevel);
  return {
    log,
    host: config.host,
    port: config.port,
    requestTimeoutMs: config.uploadTimeoutMs,
    ...(await createRouterServer(config, log)),
  };
});
