import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { EXIT, EXIT_MEANINGS, exitCodeFor } from '../sdk/cli/exitCodes.js';
import { COMMANDS, main, usageText } from '../sdk/cli/main.js';
import { SdkErrorCode } from '../sdk/ReelfluxError.js';

/** The CLI's dispatch, usage and exit codes, without a server: calls stop before the network. */
describe('reelflux CLI', () => {
  let output = '';
  beforeEach(() => {
    output = '';
    const capture = (chunk: string | Uint8Array) => {
      output += String(chunk);
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    vi.stubEnv('REELFLUX_CONFIG_DIR', mkdtempSync(join(tmpdir(), 'reelflux-cli-unit-')));
    // Nothing listens here: a call that reached the network would fail UNAVAILABLE, not USAGE.
    vi.stubEnv('REELFLUX_URL', 'http://127.0.0.1:9');
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('lists every command and every exit code in its help, made from the tables', async () => {
    expect(await main(['--help'])).toBe(EXIT.OK);
    expect(output).toBe(usageText());
    for (const command of COMMANDS) expect(output).toMatch(new RegExp(`^  ${command.name} `, 'm'));
    for (const [code, meaning] of Object.entries(EXIT_MEANINGS))
      expect(output).toContain(`${code} ${meaning}`);
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it.each([
    [[], 'Usage: reelflux'],
    [['dance'], 'unknown command "dance"'],
    [['ls', '--colour'], "Unknown option '--colour'"],
    [['status'], 'status needs a conversion id'],
    [['history', 'a', 'b'], 'history needs a video id'],
    [['ls', '--limit', '0'], '--limit must be a positive integer'],
    [['convert', '/no/such/file.mp4'], 'no such file: /no/such/file.mp4'],
    [['convert', fromRoot('package.json'), '--vbr', '1.5'], '--vbr must be a non-negative integer'],
    [['convert'], 'convert needs a video file'],
    [['signup'], 'signup needs --email'],
  ])('answers %j with exit 2 and says why', async (argv, message) => {
    expect(await main(argv)).toBe(EXIT.USAGE);
    expect(output).toContain(message);
  });

  it('exits 5 when the server cannot be reached', async () => {
    expect(await main(['status', 'a'.repeat(24)])).toBe(EXIT.UNAVAILABLE);
    expect(output).toContain('reelflux: NETWORK_ERROR');
  });

  it('maps each error code to the exit code a script acts on', () => {
    expect(exitCodeFor(ErrorCode.UNAUTHENTICATED)).toBe(EXIT.UNAUTHENTICATED);
    expect(exitCodeFor(ErrorCode.FORBIDDEN)).toBe(EXIT.UNAUTHENTICATED);
    expect(exitCodeFor(ErrorCode.NOT_FOUND)).toBe(EXIT.NOT_FOUND);
    expect(exitCodeFor(ErrorCode.BAD_USER_INPUT)).toBe(EXIT.USAGE);
    expect(exitCodeFor(ErrorCode.SERVICE_UNAVAILABLE)).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(SdkErrorCode.NETWORK_ERROR)).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(SdkErrorCode.CONNECTION_CLOSED)).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(SdkErrorCode.CANCELLED)).toBe(EXIT.INTERRUPTED);
    expect(exitCodeFor(ConversionErrorCode.NO_AUDIO_STREAM)).toBe(EXIT.FAILED);
    expect(exitCodeFor(ErrorCode.RATE_LIMITED)).toBe(EXIT.FAILED);
  });
});
