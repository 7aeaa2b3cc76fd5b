import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { eventName, notificationEvents, UsageError } from '../sdk/cli/arguments.js';
import {
  describeWebhookAttempt,
  describeWebhookDelivery,
  isAccepted,
} from '../sdk/cli/describeWebhookDelivery.js';
import { describeEmailNotifications } from '../sdk/cli/describeEmailNotifications.js';
import { describeWebhookEndpoint } from '../sdk/cli/describeWebhookEndpoint.js';
import { EXIT, EXIT_MEANINGS, exitCodeFor } from '../sdk/cli/exitCodes.js';
import { COMMANDS, findCommand, main, usageText } from '../sdk/cli/main.js';
import type {
  NotificationEvent,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
} from '../sdk/index.js';
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
    [['webhooks'], 'webhooks needs one of: add, ls, rm, enable, disable, test, rotate, deliveries'],
    [['webhooks', 'frob'], 'unknown command "webhooks frob" (webhooks takes add, ls,'],
    [['webhooks', 'add'], 'webhooks add needs a URL'],
    [
      ['webhooks', 'add', 'https://example.com/hook', '--events', 'started,failed'],
      '--events takes succeeded, failed, cancelled, not started',
    ],
    [['webhooks', 'add', 'https://example.com/hook', '--events', ' , '], '--events needs'],
    [['webhooks', 'rm'], 'webhooks rm needs an endpoint id'],
    [['webhooks', 'test', 'a', 'b'], 'webhooks test needs an endpoint id'],
    [['webhooks', 'deliveries', 'a', '--limit', '0'], '--limit must be a positive integer'],
    [['webhooks', 'replay'], 'webhooks replay needs a delivery id'],
    [['email', 'frob'], 'unknown command "email frob" (email takes set, verify, on, off)'],
    [['email', 'set'], 'email set needs an address'],
    [['email', 'set', 'a@example.com', 'b@example.com'], 'email set needs an address'],
    [['email', 'verify'], 'email verify needs the code'],
    [['email', 'on', 'now'], 'email on takes no arguments'],
    [['email', 'on', '--events', 'started'], '--events takes succeeded, failed, cancelled'],
    [['email', 'off', '--events', 'failed'], 'email off takes no --events'],
  ])('answers %j with exit 2 and says why', async (argv, message) => {
    expect(await main(argv)).toBe(EXIT.USAGE);
    expect(output).toContain(message);
  });

  it('exits 5 when the server cannot be reached', async () => {
    expect(await main(['status', 'a'.repeat(24)])).toBe(EXIT.UNAVAILABLE);
    expect(output).toContain('reelflux: NETWORK_ERROR');
    expect(await main(['webhooks', 'ls'])).toBe(EXIT.UNAVAILABLE);
    expect(await main(['email'])).toBe(EXIT.UNAVAILABLE);
  });

  it('finds a command by one word or two, and passes on what follows its name', () => {
    const found = (argv: string[]) => {
      const { command, args } = findCommand(argv);
      return { name: command.name, args };
    };
    expect(found(['ls', 'x'])).toEqual({ name: 'ls', args: ['x'] });
    expect(found(['webhooks', 'ls'])).toEqual({ name: 'webhooks ls', args: [] });
    expect(found(['webhooks', 'rm', 'abc'])).toEqual({ name: 'webhooks rm', args: ['abc'] });
    expect(found(['history', 'ls'])).toEqual({ name: 'history', args: ['ls'] });
    expect(found(['email'])).toEqual({ name: 'email', args: [] });
    expect(found(['email', 'verify', '012345'])).toEqual({
      name: 'email verify',
      args: ['012345'],
    });
    expect(() => findCommand(['webhook', 'ls'])).toThrow(UsageError);
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

  it("reads --events as short names or the API's, in any case, each once", () => {
    expect(notificationEvents('succeeded')).toEqual(['CONVERSION_SUCCEEDED']);
    expect(notificationEvents(' Failed, CONVERSION_CANCELLED,conversion.failed ,')).toEqual([
      'CONVERSION_FAILED',
      'CONVERSION_CANCELLED',
    ]);
    expect(() => notificationEvents('succeeded,done')).toThrow(/not done$/);
    expect(eventName('CONVERSION_CANCELLED')).toBe('cancelled');
  });
});

describe('reelflux webhooks output', () => {
  const endpoint: WebhookEndpoint = {
    id: 'e1',
    url: 'https://example.com/hook',
    events: ['CONVERSION_SUCCEEDED', 'CONVERSION_FAILED'],
    enabled: true,
    disabledReason: null,
    failingSince: null,
    createdAt: '2026-12-01T10:00:00.000Z',
    previousSecretExpiresAt: null,
  };
  const attempt = (statusCode: number | null, error: string | null): WebhookAttempt => ({
    at: '2026-12-01T10:00:01.250Z',
    statusCode,
    durationMs: 12,
    error,
    responseHead: '',
  });

  it('lists an endpoint on one line, with why it is off and since when it fails below', () => {
    expect(describeWebhookEndpoint(endpoint)).toBe(
      'e1  enabled   succeeded,failed  https://example.com/hook',
    );
    const now = Date.parse('2026-12-07T00:00:00Z');
    expect(
      describeWebhookEndpoint(
        {
          ...endpoint,
          enabled: false,
          disabledReason: 'failing for 5 days',
          failingSince: '2026-12-01T10:00:00.000Z',
          previousSecretExpiresAt: '2026-12-07T12:00:00.000Z',
        },
        now,
      ),
    ).toBe(
      [
        'e1  disabled  succeeded,failed  https://example.com/hook',
        '  disabled: failing for 5 days',
        '  failing since 2026-12-01T10:00:00Z',
        '  the previous secret also signs until 2026-12-07T12:00:00Z',
      ].join('\n'),
    );
    // A rotated-out secret that no longer signs is not worth a line.
    expect(
      describeWebhookEndpoint(
        { ...endpoint, previousSecretExpiresAt: '2026-12-06T00:00:00Z' },
        now,
      ),
    ).not.toContain('previous secret');
  });

  it('says what became of each attempt: the status, or why none came', () => {
    expect(describeWebhookAttempt(attempt(200, null))).toBe('HTTP 200 in 12 ms');
    expect(describeWebhookAttempt(attempt(302, 'redirect not followed (302)'))).toBe(
      'HTTP 302 (redirect not followed (302)) in 12 ms',
    );
    expect(describeWebhookAttempt(attempt(null, 'timeout'))).toBe('no answer: timeout after 12 ms');
    expect([200, 204, 299].map((code) => isAccepted(attempt(code, null)))).toEqual([
      true,
      true,
      true,
    ]);
    expect(isAccepted(attempt(302, 'redirect not followed (302)'))).toBe(false);
    expect(isAccepted(attempt(null, 'refused'))).toBe(false);
  });

  it('lists a delivery with its attempts and, while pending, the next one', () => {
    const delivery: WebhookDelivery = {
      id: 'd1',
      type: 'webhook.test',
      conversionId: null,
      videoId: null,
      status: 'PENDING',
      createdAt: '2026-12-01T10:00:00.000Z',
      nextAttemptAt: '2026-12-01T10:01:00.000Z',
      attempts: [attempt(500, null), attempt(null, 'refused')],
    };
    expect(describeWebhookDelivery(delivery)).toBe(
      [
        'd1  PENDING    webhook.test  2026-12-01T10:00:00Z',
        '  2026-12-01T10:00:01Z  HTTP 500 in 12 ms',
        '  2026-12-01T10:00:01Z  no answer: refused after 12 ms',
        '  next attempt at 2026-12-01T10:01:00Z',
      ].join('\n'),
    );
  });
});

describe('reelflux email output', () => {
  it('shows the address, whether it is verified, on or off, and its events', () => {
    const settings = {
      address: 'me@example.com',
      verified: true,
      enabled: true,
      events: ['CONVERSION_SUCCEEDED', 'CONVERSION_FAILED'] as NotificationEvent[],
    };
    expect(describeEmailNotifications(settings)).toBe(
      'me@example.com  verified  on  succeeded,failed',
    );
    expect(describeEmailNotifications({ ...settings, enabled: false })).toBe(
      'me@example.com  verified  off  succeeded,failed',
    );
    expect(describeEmailNotifications({ ...settings, verified: false })).toBe(
      [
        'me@example.com  unverified  on  succeeded,failed',
        '  nothing is mailed until `reelflux email verify <code>` with the code mailed to it',
      ].join('\n'),
    );
    expect(describeEmailNotifications(null)).toMatch(/^\(no notification address: /);
  });
});
