import type { ReelfluxClient } from '../createReelfluxClient.js';
import type { OptionValues } from './arguments.js';
import type { Progress } from './createProgress.js';
import type { ExitCode } from './exitCodes.js';

/** What a command gets to work with. */
export interface CommandContext {
  client: ReelfluxClient;
  /** The server this call talks to (saved with the token on signup and login). */
  url: string;
  values: OptionValues;
  /** The arguments after the command's name. */
  args: string[];
  progress: Progress;
  /** One result: a line for people, or (with --json) one JSON document. */
  print: (human: string, machine: unknown) => void;
}

/** One `reelflux <name>` command; the usage text is made from these. */
export interface Command {
  name: string;
  /** Its arguments and options, as the usage text shows them (may span lines). */
  synopsis: string;
  summary: string;
  run(context: CommandContext): Promise<ExitCode>;
}
