import { parseArgs } from 'node:util';
import { createReelfluxClient } from '../createReelfluxClient.js';
import { ReelfluxError } from '../ReelfluxError.js';
import { OPTIONS, UsageError } from './arguments.js';
import type { Command } from './Command.js';
import { login, signup } from './commands/account.js';
import { convert } from './commands/convert.js';
import { download, history, ls, status } from './commands/conversions.js';
import { EMAIL_COMMANDS } from './commands/email.js';
import { WEBHOOK_COMMANDS } from './commands/webhooks.js';
import { createProgress } from './createProgress.js';
import { loadCredentials } from './credentials.js';
import { EXIT, EXIT_MEANINGS, exitCodeFor, type ExitCode } from './exitCodes.js';

/** Every command, in the order `reelflux --help` lists them. */
export const COMMANDS: readonly Command[] = [
  signup,
  login,
  convert,
  status,
  download,
  ls,
  history,
  ...WEBHOOK_COMMANDS,
  ...EMAIL_COMMANDS,
];

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
  if (values.help || positionals.length === 0) {
    process.stdout.write(usageText());
    return values.help ? EXIT.OK : EXIT.USAGE;
  }
  let found;
  try {
    found = findCommand(positionals);
  } catch (error) {
    return usage((error as Error).message);
  }
  const { command, args } = found;

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

/**
 * The command the first positionals name, one word (`ls`) or two (`webhooks ls`), and the
 * arguments after its name. Throws a UsageError for a name no command has.
 */
export function findCommand(positionals: readonly string[]): { command: Command; args: string[] } {
  const [first = '', second] = positionals;
  const pair = second === undefined ? undefined : `${first} ${second}`;
  const command = COMMANDS.find((c) => c.name === pair) ?? COMMANDS.find((c) => c.name === first);
  if (command) return { command, args: positionals.slice(command.name.split(' ').length) };
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) =>
    c.name.slice(first.length + 1),
  );
  if (group.length === 0) throw new UsageError(`unknown command "${first}"`);
  const choices = group.join(', ');
  throw new UsageError(
    pair === undefined
      ? `${first} needs one of: ${choices}`
      : `unknown command "${pair}" (${first} takes ${choices})`,
  );
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
