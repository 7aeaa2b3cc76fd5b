import { createLogger } from '../../lib/platform/logger.js';
import { runMain } from '../../lib/platform/runMain.js';
import { loadMediaConfig } from './config.js';
import { createMediaServer } from './server.js';

runMain('media', async () => {
  const config = loadMediaConfig();
  const log = createLogger('media', config.logLevel);
  return {
    log,
    host: config.host,
    port: config.port,
    requestTimeoutMs: config.uploadTimeoutMs,
    ...(await createMediaServer(config, log)),
  };
});
