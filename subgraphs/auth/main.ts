import { createLogger } from '../../lib/platform/logger.js';
import { runMain } from '../../lib/platform/runMain.js';
import { loadAuthConfig } from './config.js';
import { createAuthServer } from './server.js';

runMain('auth', async () => {
  const config = loadAuthConfig();
  const log = createLogger('auth', config.logLevel);
  return { log, host: config.host, port: config.port, ...(await createAuthServer(config, log)) };
});
