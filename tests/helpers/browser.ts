import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensureChromium } from '../../scripts/infrastructure/ensureChromium.js';

export interface TestBrowser {
  context: BrowserContext;
  close: () => Promise<void>;
}

/**
 * Debian's Chromium, headless, in a profile folder of its own, told not to reach out: test
 * machines may have no outside network, and Chromium's background fetches (updates, sync, safe
 * browsing, QUIC probes) would fail by the dozen at every start.
 */
export async function launchTestBrowser(): Promise<TestBrowser> {
  const executablePath = ensureChromium(process.env, (line) =>
    process.stdout.write(`test setup | ${line}\n`),
  );
  const profile = mkdtempSync(join(tmpdir(), 'reelflux-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1100, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
