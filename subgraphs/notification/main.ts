import { runService } from '../../lib/platform/runMain.js';
import { loadNotificationConfig } from './config.js';
import { createNotificationServer } from './server.js';

runService('notification', () => loadNotificationConfig(), createNotificationServer);
