// Local infrastructure for REELFLUX's mail, like ensureMongo.ts; see docs/operations.md.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import { readEnv } from '../../lib/platform/readEnv.js';
import { buildGoProgram } from './buildGoProgram.js';
import { MissingInfrastructureError, portOpen, stopChild, type Say } from './hostTools.js';

const MAILPIT_SOURCE = fromRoot('scripts', 'mailpit');
const MAILPIT_BIN = fromRoot('.local', 'bin', 'mailpit');
// On disk rather than in a temporary file, so the mail a developer was sent is still there to
// read after a restart; Mailpit keeps the newest 500 messages.
const MAILPIT_DATA = fromRoot('.local', 'mailpit');

/** Where mail goes, and where a person or a test reads it. */
export interface MailCatcher {
  /** `smtp://host:port`, as nodemailer takes it. */
  smtpUrl: string;
  /** Mailpit's web UI and HTTP API (`/api/v1/…`); '' when SMTP_URL is used without MAILPIT_URL. */
  webUrl: string;
  /** Stops Mailpit if this call started it; otherwise does nothing. */
  stop: () => Promise<void>;
}

/**
 * SMTP_URL if set (with MAILPIT_URL, if set, as its web address); else the Mailpit that answers
 * on 127.0.0.1:MAILPIT_SMTP_PORT and :MAILPIT_WEB_PORT (1025, 8025); else our Mailpit, built
 * once, started there. `stop` stops only what this started.
 */
export async function ensureMailpit(env: NodeJS.ProcessEnv, say: Say): Promise<MailCatcher> {
  const read = readEnv(env);
  const nothing = async () => {};
  if (read.optionalString('SMTP_URL') !== undefined) {
    const smtpUrl = read.url('SMTP_URL');
    return { smtpUrl, webUrl: read.optionalString('MAILPIT_URL') ?? '', stop: nothing };
  }
  const smtpPort = read.int('MAILPIT_SMTP_PORT', 1025, { min: 1, max: 65535 });
  const webPort = read.int('MAILPIT_WEB_PORT', 8025, { min: 1, max: 65535 });
  const smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
  const webUrl = `http://127.0.0.1:${webPort}`;
  if (await answersMailpit(webUrl, smtpPort)) {
    say(`mail: using the Mailpit already on 127.0.0.1:${smtpPort} (SMTP) and ${webUrl}`);
    return { smtpUrl, webUrl, stop: nothing };
  }
  for (const [port, variable] of [
    [smtpPort, 'MAILPIT_SMTP_PORT'],
    [webPort, 'MAILPIT_WEB_PORT'],
  ] as const) {
    if (await portOpen(port)) {
      throw new MissingInfrastructureError(
        `Port ${port} on 127.0.0.1 is taken by something other than Mailpit: free it, set ${variable} to another port, or set SMTP_URL to a mail server.`,
      );
    }
  }
  const stop = await startMailpit(smtpPort, webPort, say);
  say(`mail: started Mailpit v1.33.1, SMTP on 127.0.0.1:${smtpPort}, web UI and API on ${webUrl}`);
  return { smtpUrl, webUrl, stop };
}

/** Our Mailpit on loopback, once both its ports answer; the result stops it. */
async function startMailpit(
  smtpPort: number,
  webPort: number,
  say: Say,
): Promise<() => Promise<void>> {
  const bin = buildMailpit(say);
  mkdirSync(MAILPIT_DATA, { recursive: true });
  const child = spawn(
    bin,
    [
      `--smtp=127.0.0.1:${smtpPort}`,
      `--listen=127.0.0.1:${webPort}`,
      `--database=${MAILPIT_DATA}/mailpit.db`,
      // A web page the developer opens could point a name of its own at 127.0.0.1 (DNS
      // rebinding) and read the sign-in codes and links in here: answer loopback names only.
      '--allowed-hosts=127.0.0.1,localhost',
      // No network to ask GitHub for releases, nor a resolver worth waiting for on loopback.
      '--disable-version-check',
      '--smtp-disable-rdns',
      '--quiet',
    ],
    // --quiet leaves only its errors, which it writes to standard output.
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, exited);
  const deadline = Date.now() + 15_000;
  while (!(await answersMailpit(`http://127.0.0.1:${webPort}`, smtpPort))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new MissingInfrastructureError(
        `Mailpit did not start on 127.0.0.1:${smtpPort} and :${webPort} (see its output above): free those ports, or set SMTP_URL to a mail server.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return stop;
}

/**
 * Builds our Mailpit once (rebuilt only when scripts/mailpit changes) and returns its path.
 * Its web UI's page has no script in it: see scripts/mailpit/main.go.
 */
export function buildMailpit(say: Say = () => {}): string {
  buildGoProgram({
    source: MAILPIT_SOURCE,
    bin: MAILPIT_BIN,
    what: 'Mailpit v1.33.1 (about two and a half minutes on a cold Go cache)',
    otherwise: 'set SMTP_URL to a mail server',
    say,
  });
  return MAILPIT_BIN;
}

/** Whether Mailpit's API answers at `webUrl` and something takes SMTP on `smtpPort`. */
async function answersMailpit(webUrl: string, smtpPort: number): Promise<boolean> {
  try {
    const response = await fetch(`${webUrl}/api/v1/info`, { signal: AbortSignal.timeout(1_000) });
    if (!response.ok) return false;
    const info = (await response.json()) as { Version?: unknown };
    return typeof info.Version === 'string' && (await portOpen(smtpPort));
  } catch {
    return false;
  }
}
