import { runService } from '../../lib/platform/runMain.js';
import { loadAuthConfig } from './config.js';
import { createAuthServer } from './server.js';

runService('auth', () => loadAuthConfig(), createAuthServer);
