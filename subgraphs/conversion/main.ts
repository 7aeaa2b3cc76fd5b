import { runService } from '../../lib/platform/runMain.js';
import { loadConversionConfig } from './config.js';
import { createConversionServer } from './server.js';

runService('conversion', () => loadConversionConfig(), createConversionServer);
