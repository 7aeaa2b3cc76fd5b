import { createLogger } from '../../lib/platform/logger.js';
import { runMain } from '../../lib/platform/runMain.js';
import { loadConversionConfig } from './config.js';
import { createConversionServer } from './server.js';

runMain('conversion', async () => {
  const config = loadConversionConfig();
  const log = createLogger('conversion', config.logLevel);
  return {
    log,
    host: config.host,
    port: config.port,
    ...(await createConversionServer(config, log)),
  };
});
