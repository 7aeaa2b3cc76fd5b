// For the browser tests (tests/web.e2e.test.ts); `npm start` does not need a browser.
import { spawnSync } from 'node:child_process';
import { aptInstall, findExecutable, MissingInfrastructureError, type Say } from './hostTools.js';

/** CHROMIUM_PATH if set; else the system's Chromium; else Debian's, installed with apt. */
export function ensureChromium(env: NodeJS.ProcessEnv, say: Say): string {
  let path = env.CHROMIUM_PATH ?? findExecutable('chromium', ['/usr/bin/chromium']);
  if (!path) {
    aptInstall('chromium', 'Chromium', 'CHROMIUM_PATH', say);
    path = findExecutable('chromium', ['/usr/bin/chromium']);
  }
  if (!path || spawnSync(path, ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new MissingInfrastructureError(
      `CHROMIUM_PATH does not point at a working Chromium (${path ?? 'not found'}).`,
    );
  }
  return path;
}
