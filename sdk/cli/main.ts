import { parseArgs } from 'node:util';
import { createReelfluxClient } from '../createReelfluxClient.js';
import { ReelfluxError } from '../ReelfluxError.js';
import { OPTIONS, UsageError } from './arguments.js';
import type { Command } from './Command.js';
import { login, signup } from './commands/account.js';
import { convert } from './commands/convert.js';
import { download, history, ls, status } from './commands/conversions.js';
import { createProgress } from './createProgress.js';
import { loadCredentials } from './credentials.js';
import { EXIT, EXIT_MEANINGS, exitCodeFor, type ExitCode } from './exitCodes.js';

/** Every command, in the order `reelflux --help` lists them. */
export const COMMANDS: readonly Command[] = [signup, login, convert, status, download, ls, history];

const COLUMN = 30;

/** The help text, made from the command table and the exit codes. */
export function usageText(): string {
  const commands = COMMANDS.map(({ name, synopsis, summary }) => {
    const [first = '', ...more] = `${name} ${synopsis}`.split('\n');
    const lines = [`  ${first}`, ...more.map((line) => `          ${line}`)];
    const last = lines.length - 1;
    if ((lines[last] ?? '').length < COLUMN - 1) {
      lines[last] = `${(lines[last] ?? '').padEnd(COLUMN)}${summary}`;
    } else lines.push(`${' '.repeat(COLUMN)}${summary}`);
    return lines.join('\n');
  });
  const exits = Object.entries(EXIT_MEANINGS)
    .map(([code, meaning]) => `${code} ${meaning}`)
    .join(', ');
  return `Usage: reelflux <command> [options]

Commands:
${commands.join('\n')}

Options: --url URL (or REELFLUX_URL), --json (one JSON document on stdout, no progress),
         -h, --help. REELFLUX_TOKEN overrides the stored token.
Exit codes: ${exits}.
`;
}

/** `reelflux …`: parses `argv`, runs one command, and returns the exit code. */
export async function main(argv: string[]): Promise<ExitCode> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...args] = positionals;
  if (values.help || !name) {
    process.stdout.write(usageText());
    return values.help ? EXIT.OK : EXIT.USAGE;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return usage(`unknown command "${name}"`);

  const credentials = await loadCredentials();
  const url = values.url ?? credentials.url;
  const client = createReelfluxClient({
    url,
    ...(credentials.token ? { token: credentials.token } : {}),
  });
  const json = values.json === true;
  const progress = createProgress(
    json ? 'off' : process.stderr.isTTY ? 'bar' : 'lines',
    process.stderr,
  );
  const print = (human: string, machine: unknown) =>
    process.stdout.write(json ? `${JSON.stringify(machine, null, 2)}\n` : `${human}\n`);
  try {
    return await command.run({ client, url, values, args, progress, print });
  } catch (error) {
    return fail(error, json);
  }
}

function fail(error: unknown, json: boolean): ExitCode {
  if (error instanceof UsageError) return usage(error.message);
  const code = error instanceof ReelfluxError ? error.code : 'INTERNAL_SERVER_ERROR';
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
  process.stderr.write(`reelflux: ${code}: ${message}\n`);
  if (code === 'UNAUTHENTICATED')
    process.stderr.write('Log in with `reelflux login --email you@example.com`.\n');
  return exitCodeFor(code);
}

function usage(message: string): ExitCode {
  process.stderr.write(`reelflux: ${message}\n\n${usageText()}`);
  return EXIT.USAGE;
}
