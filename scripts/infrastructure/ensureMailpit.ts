// Local infrastructure for REELFLUX's mail, like ensureMongo.ts; see docs/operations.md.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import { readEnv } from '../../lib/platform/readEnv.js';
import { buildGoProgram } from './buildGoProgram.js';
import {
  findExecutable,
  MissingInfrastructureError,
  portOpen,
  runTool,
  stopChild,
  type Say,
} from './hostTools.js';

const MAILPIT_SOURCE = fromRoot('scripts', 'mailpit');
/** The npm packages Mailpit's web UI is built with, pinned by their lock file. */
const MAILPIT_UI = join(MAILPIT_SOURCE, 'ui');
const MAILPIT_BIN = fromRoot('.local', 'bin', 'mailpit');
/** Mailpit's source with its web UI built, which `go build` reads through a Go workspace. */
const MAILPIT_BUILD = fromRoot('.local', 'mailpit-build');
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
 * Builds our Mailpit once, web UI included (rebuilt only when scripts/mailpit changes), and
 * returns its path.
 */
export function buildMailpit(say: Say = () => {}): string {
  buildGoProgram({
    source: MAILPIT_SOURCE,
    bin: MAILPIT_BIN,
    what: 'Mailpit v1.33.1 and its web UI (about three minutes on cold Go and npm caches)',
    otherwise: 'set SMTP_URL to a mail server',
    inputs: [join(MAILPIT_UI, 'package.json'), join(MAILPIT_UI, 'package-lock.json')],
    prepare: prepareMailpitSource,
    say,
  });
  return MAILPIT_BIN;
}

/**
 * Mailpit's web UI (server/ui/dist, embedded in the binary) is built by npm in its release
 * process, so the module the Go proxy serves lacks it and the page would load blank. So the
 * module's source is copied out of the Go module cache, its UI built there with the packages
 * pinned in scripts/mailpit/ui, and a Go workspace points the build at that copy.
 */
function prepareMailpitSource(): NodeJS.ProcessEnv {
  const go = findExecutable('go', ['/usr/local/go/bin/go']) ?? 'go';
  const npm = findExecutable('npm', []);
  if (!npm) {
    throw new MissingInfrastructureError(
      "Mailpit's web UI is built with npm, which is not on PATH: install Node.js with npm, or set SMTP_URL to a mail server.",
    );
  }
  try {
    const module = JSON.parse(
      runTool(go, ['mod', 'download', '-json', 'github.com/axllent/mailpit'], {
        cwd: MAILPIT_SOURCE,
      }),
    ) as { Dir: string; Version: string };
    rmSync(MAILPIT_BUILD, { recursive: true, force: true });
    const source = join(MAILPIT_BUILD, 'source');
    cpSync(module.Dir, source, { recursive: true });
    // The module cache is read-only, and so is a copy of it.
    runTool('chmod', ['-R', 'u+w', source]);
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(join(MAILPIT_UI, file), join(source, file));
    // Mailpit's own lock names versions the registry no longer serves; ours is resolved from it
    // (rapidoc, which only the API docs page uses, is 9 rather than 12). Its build scripts are
    // not run, as for the project's own packages.
    const quiet = ['--ignore-scripts', '--legacy-peer-deps', '--no-audit', '--no-fund'];
    runTool(npm, ['ci', ...quiet], { cwd: source });
    runTool(process.execPath, ['esbuild.config.mjs'], {
      cwd: source,
      env: { ...process.env, MINIFY: 'true' },
    });
    const goLine = /^go \S+$/m.exec(readFileSync(join(MAILPIT_SOURCE, 'go.mod'), 'utf8'))?.[0];
    const workspace = join(MAILPIT_BUILD, 'go.work');
    writeFileSync(
      workspace,
      `${goLine ?? 'go 1.24'}\n\nuse ${MAILPIT_SOURCE}\n\nreplace github.com/axllent/mailpit ${module.Version} => ./source\n`,
    );
    return { GOWORK: workspace };
  } catch (error) {
    if (error instanceof MissingInfrastructureError) throw error;
    throw new MissingInfrastructureError(
      `Building Mailpit's web UI failed: ${(error as Error).message}\nCheck that the npm registry and the Go module proxy are reachable, or set SMTP_URL to a mail server.`,
    );
  }
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
