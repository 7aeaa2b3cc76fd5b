import { runService } from '../lib/platform/runMain.js';
import { loadRouterConfig } from './config.js';
import { createRouterServer } from './server.js';

runService('router', () => loadRouterConfig(), createRouterServer);
