import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { createReelfluxClient, ReelfluxError, type Conversion } from '../sdk/index.js';
import { PASSWORD } from './helpers/authOperations.js';
import { makeLongAudio, makeVideo, probeMp3 } from './helpers/fixtures.js';
import { readMail } from './helpers/mailpit.js';
import { uniqueName } from './helpers/uniqueName.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhookReceiver.js';

const CLI = fromRoot('dist', 'sdk', 'cli', 'bin.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('SDK and CLI end to end', () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('sdk')}_`;
  const work = mkdtempSync(join(tmpdir(), 'reelflux-cli-'));
  const configDir = join(work, 'config');
  let stack: RunningStack;
  let clip: string;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    stack = await spawnStack(infra, prefix, {
      WORKER_CONCURRENCY: '2',
      // The webhook receiver is a plain-http server on loopback.
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_ALLOW_HTTP: 'true',
    });
    receiver = await startWebhookReceiver();
    clip = join(work, 'Clip One.mp4');
    writeFileSync(clip, makeVideo(infra.ffmpegPath, 6));
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  /** Runs the built CLI as a user would, with its own config folder and no TTY. */
  function cli(
    args: string[],
    options: {
      stdin?: string;
      env?: Record<string, string>;
      onStderr?: (text: string) => void;
    } = {},
  ): Promise<CliRun> & { pid: number | undefined; kill: (signal: NodeJS.Signals) => void } {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: work,
        REELFLUX_CONFIG_DIR: configDir,
        REELFLUX_URL: stack.routerUrl,
        ...options.env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr);
    });
    child.stdin.end(options.stdin ?? '');
    const done = new Promise<CliRun>((resolve) =>
      child.on('exit', (code) => resolve({ code, stdout, stderr })),
    );
    return Object.assign(done, {
      pid: child.pid,
      kill: (signal: NodeJS.Signals) => child.kill(signal),
    });
  }

  describe('SDK', () => {
    const client = () => createReelfluxClient({ url: stack.routerUrl });

    it('signs up, uploads with progress, watches, and downloads the MP3', async () => {
      const reelflux = client();
      const email = `${uniqueName('sdk')}@example.com`;
      await reelflux.signUp(email, PASSWORD);
      expect((await reelflux.me())?.email).toBe(email);

      const sent: number[] = [];
      const video = await reelflux.uploadVideo(
        clip,
        { mp3: { bitrateKbps: 96 } },
        { onProgress: (done) => sent.push(done) },
      );
      expect(sent.at(-1)).toBe(statSync(clip).size);
      expect(video).toMatchObject({ filename: 'Clip One.mp4', bytes: statSync(clip).size });

      const states: Conversion[] = [];
      for await (const state of reelflux.watchConversion(video.id)) states.push(state);
      const last = states.at(-1);
      expect(last?.status).toBe('SUCCEEDED');
      expect(last?.video.filename).toBe('Clip One.mp4');

      const target = join(work, 'sdk.mp3');
      const seen: number[] = [];
      const { bytes } = await reelflux.download(last?.audio ?? { downloadUrl: '' }, target, {
        onProgress: (done) => seen.push(done),
      });
      expect(bytes).toBe(last?.audio?.bytes);
      expect(seen.at(-1)).toBe(bytes);
      const facts = probeMp3(infra.ffprobePath, readFileSync(target));
      expect(facts).toMatchObject({ codec: 'mp3', bitrateKbps: 96 });
      expect(facts.durationSeconds).toBeCloseTo(6, 0);

      // Converted again: the video's conversions, newest first, a page at a time.
      const again = await reelflux.convertVideo(video.id, { bitrateKbps: 64 });
      const first = await reelflux.conversions(video.id, 1);
      expect(first.edges.map((edge) => edge.node.id)).toEqual([again.id]);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = await reelflux.conversions(video.id, 1, first.pageInfo.endCursor ?? '');
      expect(second.edges.map((edge) => edge.node.id)).toEqual([video.id]);
      expect(second.pageInfo.hasNextPage).toBe(false);
    });

    it('keeps a file name with quotes, an apostrophe and non-ASCII letters exactly', async () => {
      const reelflux = client();
      await reelflux.signUp(`${uniqueName('sdk')}@example.com`, PASSWORD);
      const name = `Live "Encore" – L'Été.mp4`;
      const named = join(work, name);
      copyFileSync(clip, named);
      const video = await reelflux.uploadVideo(named);
      expect(video.filename).toBe(name);
    });

    it('fails with typed errors that carry the server code', async () => {
      const reelflux = client();
      const wrong = await reelflux
        .logIn('nobody@example.com', 'wrong password!')
        .catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(ReelfluxError);
      expect(wrong).toMatchObject({ code: 'UNAUTHENTICATED' });

      await reelflux.signUp(`${uniqueName('sdk')}@example.com`, PASSWORD);
      const text = join(work, 'notes.txt');
      writeFileSync(text, 'not a video at all\n'.repeat(100));
      await expect(reelflux.uploadVideo(text)).rejects.toMatchObject({
        code: 'UNSUPPORTED_MEDIA',
      });
      const silent = join(work, 'silent.mp4');
      writeFileSync(silent, makeVideo(infra.ffmpegPath, 2, { audio: 'none' }));
      await expect(reelflux.convertFile(silent)).rejects.toMatchObject({
        code: 'NO_AUDIO_STREAM',
      });
      await expect(reelflux.conversion('0123456789abcdef01234567')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });
  });

  describe('CLI', () => {
    it('signs up and keeps the token readable by its owner only', async () => {
      const run = await cli(['signup', '--email', `${uniqueName('cli')}@example.com`], {
        stdin: `${PASSWORD}\n`,
      });
      expect(run.code, run.stderr).toBe(0);
      const file = join(configDir, 'credentials.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ url: stack.routerUrl });
    });

    it('converts a video to the MP3 asked for, with --json output that parses', async () => {
      const run = await cli([
        'convert',
        clip,
        '-o',
        'out.mp3',
        '--bitrate',
        '128',
        '--mono',
        '--title',
        'Test Title',
        '--json',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as {
        output: string;
        conversionId: string;
        status: string;
        audio: { bytes: number };
      };
      expect(result).toMatchObject({ output: 'out.mp3', status: 'SUCCEEDED' });
      const mp3 = readFileSync(join(work, 'out.mp3'));
      expect(mp3.length).toBe(result.audio.bytes);
      const facts = probeMp3(infra.ffprobePath, mp3);
      expect(facts).toMatchObject({ codec: 'mp3', channels: 1 });
      // The container's figure includes the ID3 tag, which weighs on a 6 s file.
      expect(Math.abs(facts.bitrateKbps - 128)).toBeLessThanOrEqual(2);
      expect(facts.tags.title).toBe('Test Title');
      expect(facts.durationSeconds).toBeCloseTo(6, 0);

      const status = await cli(['status', result.conversionId, '--json']);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        id: result.conversionId,
        status: 'SUCCEEDED',
      });
      const download = await cli(['download', result.conversionId, '-o', 'again.mp3']);
      expect(download.code, download.stderr).toBe(0);
      expect(readFileSync(join(work, 'again.mp3')).equals(mp3)).toBe(true);
      const ls = await cli(['ls', '--json']);
      expect(JSON.parse(ls.stdout)).toEqual([
        expect.objectContaining({ filename: 'Clip One.mp4', latestConversion: expect.anything() }),
      ]);
      const videoId = (JSON.parse(ls.stdout) as { id: string }[])[0]?.id ?? '';
      const history = await cli(['history', videoId, '--json']);
      expect(history.code, history.stderr).toBe(0);
      expect(JSON.parse(history.stdout)).toEqual([
        expect.objectContaining({ id: result.conversionId, status: 'SUCCEEDED' }),
      ]);
    });

    it('prints plain progress lines when not on a terminal', async () => {
      const run = await cli(['convert', clip, '-o', 'plain.mp3']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe('plain.mp3');
      // ffmpeg wrote the clip with its index last: it is sent remuxed, index first.
      expect(run.stderr).toMatch(/^upload index \(moov\) moved first/m);
      expect(run.stderr).toMatch(/^upload 100% /m);
      expect(run.stderr).toMatch(/^download 100% /m);
      expect(run.stderr).toMatch(/^done plain\.mp3 \(/m);
      expect(run.stderr).not.toContain('\r');
    });

    it('exits with codes a script can branch on', async () => {
      expect((await cli(['status', '0123456789abcdef01234567'])).code).toBe(4);
      expect((await cli(['convert'])).code).toBe(2);
      expect((await cli(['convert', clip, '--bitrate', 'loud'])).code).toBe(2);
      expect((await cli(['frobnicate'])).code).toBe(2);
      const anonymous = await cli(['ls'], { env: { REELFLUX_CONFIG_DIR: join(work, 'empty') } });
      expect(anonymous.code).toBe(3);
      const unreachable = await cli(['ls'], { env: { REELFLUX_URL: 'http://127.0.0.1:9' } });
      expect(unreachable.code).toBe(5);
    });

    it('cancels the conversion on Ctrl-C', async () => {
      const long = join(work, 'long.m4a');
      writeFileSync(long, makeLongAudio(infra.ffmpegPath, 1800));
      let running: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (running = resolve));
      const run = cli(['convert', long], {
        onStderr: (text) => {
          if (/^convert \d+% running/m.test(text)) running();
        },
      });
      await started;
      run.kill('SIGINT');
      const result = await run;
      expect(result.code, result.stderr).toBe(130);
      expect(result.stderr).toMatch(/cancelled/);

      const token = (
        JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as {
          token: string;
        }
      ).token;
      const reelflux = createReelfluxClient({ url: stack.routerUrl, token });
      const newest = (await reelflux.videos(1)).edges[0]?.node;
      expect(newest?.filename).toBe('long.m4a');
      await expect
        .poll(async () => (await reelflux.conversion(newest?.id ?? '')).status)
        .toBe('CANCELLED');
    });

    it('manages webhook endpoints: the secret once, a signed test the receiver takes, replay, removal', async () => {
      // A user of its own, in a config folder of its own: the steps above share theirs.
      const env = { REELFLUX_CONFIG_DIR: join(work, 'webhooks-config') };
      const run = (args: string[]) => cli(args, { env });
      const signup = await cli(['signup', '--email', `${uniqueName('hooks')}@example.com`], {
        stdin: `${PASSWORD}\n`,
        env,
      });
      expect(signup.code, signup.stderr).toBe(0);

      const url = receiver.url('/cli');
      const add = await run(['webhooks', 'add', url, '--events', 'succeeded,failed']);
      expect(add.code, add.stderr).toBe(0);
      const id = add.stdout.split(/\s/)[0] ?? '';
      const secret = /^secret: (whsec_\S+)$/m.exec(add.stdout)?.[1] ?? '';
      expect(id).toMatch(/^[0-9a-f]{24}$/);
      expect(secret).toMatch(/^whsec_/);
      expect(add.stdout).toContain('This secret will not be shown again');

      const ls = await run(['webhooks', 'ls']);
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stdout.trim()).toBe(`${id}  enabled   succeeded,failed  ${url}`);
      const listed = await run(['webhooks', 'ls', '--json']);
      expect(JSON.parse(listed.stdout)).toEqual([
        expect.objectContaining({
          id,
          url,
          events: ['CONVERSION_SUCCEEDED', 'CONVERSION_FAILED'],
          enabled: true,
          failingSince: null,
        }),
      ]);
      expect(listed.stdout).not.toContain(secret);

      // The CLI waits for the attempt and prints the receiver's answer.
      const test = await run(['webhooks', 'test', id]);
      expect(test.code, test.stderr).toBe(0);
      expect(test.stdout).toMatch(/^[0-9a-f]{24} {2}HTTP 200 in \d+ ms$/m);
      const deliveryId = test.stdout.split(/\s/)[0] ?? '';
      const [hook] = await receiver.waitFor('/cli', 1);
      expect(hook?.headers['webhook-id']).toBe(deliveryId);
      expect(hook?.headers['webhook-signature']).toMatch(/^v1,/);
      const payload = new Webhook(secret).verify(
        hook?.body ?? '',
        hook?.headers as Record<string, string>,
      );
      expect(payload).toMatchObject({ type: 'webhook.test' });

      const deliveries = await run(['webhooks', 'deliveries', id]);
      expect(deliveries.code, deliveries.stderr).toBe(0);
      expect(deliveries.stdout).toMatch(new RegExp(`^${deliveryId} {2}DELIVERED +webhook\\.test `));
      expect(deliveries.stdout).toMatch(/^ {2}\S+ {2}HTTP 200 in \d+ ms$/m);

      // A new secret, printed once; the replay (same webhook-id) verifies with it.
      const rotate = await run(['webhooks', 'rotate', id]);
      expect(rotate.code, rotate.stderr).toBe(0);
      const rotated = /^secret: (whsec_\S+)$/m.exec(rotate.stdout)?.[1] ?? '';
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(secret);
      const replay = await run(['webhooks', 'replay', deliveryId]);
      expect(replay.code, replay.stderr).toBe(0);
      const again = (await receiver.waitFor('/cli', 2))[1];
      expect(again?.headers['webhook-id']).toBe(deliveryId);
      expect(
        new Webhook(rotated).verify(again?.body ?? '', again?.headers as Record<string, string>),
      ).toMatchObject({ type: 'webhook.test' });

      const rm = await run(['webhooks', 'rm', id]);
      expect(rm.code, rm.stderr).toBe(0);
      expect((await run(['webhooks', 'ls'])).stdout.trim()).toBe('(no webhook endpoints)');
      expect((await run(['webhooks', 'rm', id])).code).toBe(4);
      expect((await run(['webhooks', 'add', 'ftp://example.com/'])).code).toBe(2);
    });

    it('sets a notification address, verifies it with the code mailed to it, turns it off and on', async () => {
      const env = { REELFLUX_CONFIG_DIR: join(work, 'email-config') };
      const run = (args: string[]) => cli(args, { env });
      const signup = await cli(['signup', '--email', `${uniqueName('mail')}@example.com`], {
        stdin: `${PASSWORD}\n`,
        env,
      });
      expect(signup.code, signup.stderr).toBe(0);
      expect((await run(['email'])).stdout.trim()).toMatch(/^\(no notification address/);

      const address = `${uniqueName('notify')}@example.com`;
      const set = await run(['email', 'set', address]);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toContain(`${address}  unverified  on  `);
      const mail = await readMail(infra.mailWebUrl, address, { timeoutMs: 20_000 });
      const code = /code is (\d{6})/.exec(mail.text)?.[1] ?? '';
      expect(code).toMatch(/^\d{6}$/);

      const wrong = await run(['email', 'verify', code === '000000' ? '111111' : '000000']);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain('BAD_USER_INPUT');
      const verify = await run(['email', 'verify', code]);
      expect(verify.code, verify.stderr).toBe(0);
      const shown = await run(['email']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout.trim()).toBe(`${address}  verified  on  succeeded,failed,cancelled`);

      const off = await run(['email', 'off']);
      expect(off.code, off.stderr).toBe(0);
      expect(off.stdout.trim()).toBe(`${address}  verified  off  succeeded,failed,cancelled`);
      const on = await run(['email', 'on', '--events', 'failed', '--json']);
      expect(on.code, on.stderr).toBe(0);
      expect(JSON.parse(on.stdout)).toEqual({
        address,
        verified: true,
        enabled: true,
        events: ['CONVERSION_FAILED'],
      });
    });
  });
});
