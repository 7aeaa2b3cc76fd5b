import { runService } from '../../lib/platform/runMain.js';
import { loadMediaConfig } from './config.js';
import { createMediaServer } from './server.js';

runService('media', () => loadMediaConfig(), createMediaServer);
