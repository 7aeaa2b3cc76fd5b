import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { topologyNames } from '../lib/broker/topology.js';
import type { RunningStack } from '../scripts/spawnStack.js';
import { signUpToken } from './helpers/authOperations.js';
import { makeLongAudio, makeVideo } from './helpers/fixtures.js';
import { postGraphQL } from './helpers/graphql.js';
import { uploadVideoId } from './helpers/multipartUpload.js';
import { conversionUntil } from './helpers/conversionState.js';
import { childPids } from './helpers/processes.js';
import { useBrokerProxy } from './helpers/useBrokerProxy.js';
import { useStack } from './helpers/useStack.js';

const signUp = (stack: RunningStack) => signUpToken(stack.graphqlUrl);
const uploadClip = (stack: RunningStack, token: string, clip: Buffer) =>
  uploadVideoId(stack.graphqlUrl, clip, { token });
const finished = (stack: RunningStack, token: string, id: string, timeoutMs = 60_000) =>
  conversionUntil(stack.graphqlUrl, token, id, { timeoutMs });

/**
 * An ffmpeg made of `script` (sh), in a folder of its own under the system's temporary one;
 * `kind` names the folder.
 */
function writeFakeFfmpeg(kind: string, script: string): string {
  const path = join(mkdtempSync(join(tmpdir(), `reelflux-${kind}-ffmpeg-`)), 'ffmpeg');
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('conversion when ffmpeg keeps crashing', () => {
  const suite = useStack('crash', (infra) => ({
    // An ffmpeg that dies like a crashed encoder; ffprobe stays real so the input checks pass.
    FFMPEG_PATH: writeFakeFfmpeg(
      'crashing',
      `[ "$1" = "-version" ] && exec ${infra.ffmpegPath} -version\necho "simulated encoder crash" >&2\nkill -SEGV $$`,
    ),
    WORKER_RETRY_BASE_MS: '100',
  }));
  const { infra, prefix } = suite;

  it('retries with backoff, then fails with RETRIES_EXHAUSTED and parks the job in the dead-letter queue', async () => {
    const token = await signUp(suite.stack);
    const id = await uploadClip(suite.stack, token, makeVideo(infra.ffmpegPath, 2));
    const done = await finished(suite.stack, token, id);
    expect(done).toMatchObject({
      status: 'FAILED',
      attempts: 3,
      error: { code: 'RETRIES_EXHAUSTED' },
      audio: null,
    });

    const connection = await amqp.connect(infra.amqpUrl);
    try {
      const channel = await connection.createChannel();
      const dead = await channel.get(topologyNames(prefix).queues.jobsDead, { noAck: true });
      expect(dead && JSON.parse(dead.content.toString())).toMatchObject({
        type: 'conversion.job',
        conversionId: id,
      });
    } finally {
      await connection.close();
    }
  });

  it('dead-letters a malformed job without crashing the worker', async () => {
    const names = topologyNames(prefix);
    const connection = await amqp.connect(infra.amqpUrl);
    try {
      const channel = await connection.createChannel();
      channel.sendToQueue(
        names.queues.jobs,
        Buffer.from('{"type":"conversion.job","version":1,"conversionId":"../../etc"}'),
      );
      channel.sendToQueue(names.queues.jobs, Buffer.from('not json at all'));
      const seen: string[] = [];
      await expect
        .poll(
          async () => {
            const message = await channel.get(names.queues.jobsDead, { noAck: true });
            if (message) seen.push(message.content.toString());
            return seen.length;
          },
          { timeout: 10_000, interval: 200 },
        )
        .toBe(2);
      expect(seen).toContain('not json at all');
    } finally {
      await connection.close();
    }
    expect((await fetch(`${suite.stack.internalUrls.worker}/readyz`)).status).toBe(200);
  });
});

/**
 * How long after RabbitMQ comes back every upload accepted before it went away has its MP3:
 * four 3 s clips of one user, converted one after another in the owner's turn, on a busy
 * 2-core machine (docs/architecture.md, "After a broker outage").
 */
const RECOVERY_MS = 15_000;

describe('conversion when RabbitMQ goes away mid-flow', () => {
  const relay = useBrokerProxy();
  const suite = useStack('flap', () => ({ AMQP_URL: relay.amqpUrl }));
  const { infra } = suite;

  it('finishes every accepted upload within 15 s of the broker coming back, each with one MP3', async () => {
    const token = await signUp(suite.stack);
    const clip = makeVideo(infra.ffmpegPath, 3);
    const ids = await Promise.all(
      Array.from({ length: 4 }, () => uploadClip(suite.stack, token, clip)),
    );
    relay.proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    relay.proxy.restore();
    // One deadline for all four, counted from the broker's return: what the user waits.
    const deadline = Date.now() + RECOVERY_MS;
    for (const id of ids) {
      const done = await finished(suite.stack, token, id, Math.max(0, deadline - Date.now()));
      expect.soft(done, id).toMatchObject({ status: 'SUCCEEDED', error: null });
      expect.soft(done.audio?.id, id).toMatch(/^[0-9a-f]{24}$/);
    }
    // Sign-up and four uploads take seconds, the cut 3 s, recovery at most RECOVERY_MS.
  }, 60_000);
  it('refuses convertVideo while the broker is away, leaving no conversion without a job', async () => {
    const token = await signUp(suite.stack);
    const videoId = await uploadClip(suite.stack, token, makeVideo(infra.ffmpegPath, 2));
    await finished(suite.stack, token, videoId);
    const count = async () => {
      const response = await postGraphQL<{ video: { conversions: { edges: unknown[] } } }>(
        suite.stack.graphqlUrl,
        'query ($v: ID!) { video(id: $v) { conversions { edges { node { id } } } } }',
        { token, variables: { v: videoId } },
      );
      return response.body.data?.video.conversions.edges.length;
    };
    expect(await count()).toBe(1);
    relay.proxy.cut();
    try {
      const refused = await postGraphQL(
        suite.stack.graphqlUrl,
        'mutation ($v: ID!) { convertVideo(videoId: $v) { id } }',
        {
          token,
          variables: { v: videoId },
        },
      );
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(await count()).toBe(1);
    } finally {
      relay.proxy.restore();
    }
  });
});

describe('a job still running when RabbitMQ comes back', () => {
  const relay = useBrokerProxy();
  const suite = useStack('rejoin', (infra) => ({
    AMQP_URL: relay.amqpUrl,
    // An encoder that waits 8 s before it starts: the job's run outlasts the cut and the
    // reconnect on a machine of any speed, so RabbitMQ hands the job back to the worker that
    // is still running it.
    FFMPEG_PATH: writeFakeFfmpeg(
      'slow',
      `[ "$1" = "-version" ] || sleep 8\nexec ${infra.ffmpegPath} "$@"`,
    ),
  }));
  const { infra } = suite;

  it('is finished by the run that had it, with one attempt', async () => {
    const token = await signUp(suite.stack);
    const id = await uploadClip(suite.stack, token, makeVideo(infra.ffmpegPath, 2));
    await conversionUntil(suite.stack.graphqlUrl, token, id, {
      done: (c) => c.status === 'RUNNING',
      timeoutMs: 30_000,
    });
    relay.proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    relay.proxy.restore();
    const done = await finished(suite.stack, token, id, 30_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1, error: null });
    expect(done.audio?.id).toMatch(/^[0-9a-f]{24}$/);
    // Up to 30 s to start, the 3 s cut and up to 30 s to finish.
  }, 90_000);
});

describe('worker shutdown with a job running', () => {
  const suite = useStack('drain', { WORKER_DRAIN_SECONDS: '1' });
  const { infra } = suite;

  it('hands the job back on each of three rolling restarts; a worker finishes it once, one attempt spent', async () => {
    const token = await signUp(suite.stack);
    // An hour of audio: about 9 s of ffmpeg here, so no run can finish within the 1 s drain
    // (15 minutes, 2.3 s, once did in a loaded CI run, and the next restart found it done).
    const id = await uploadClip(suite.stack, token, makeLongAudio(infra.ffmpegPath, 3600));
    // One more restart than WORKER_MAX_ATTEMPTS (3): handing back must not spend attempts.
    for (let restart = 0; restart < 3; restart++) {
      await conversionUntil(suite.stack.graphqlUrl, token, id, {
        done: (c) => c.status === 'RUNNING' && (c.progress ?? 0) > 0,
      });
      const [worker] = childPids(suite.stack.launcher.pid ?? 0, 'worker/main.js');
      process.kill(worker ?? 0, 'SIGTERM');
      await conversionUntil(suite.stack.graphqlUrl, token, id, {
        done: (c) => c.status !== 'RUNNING',
      });
    }
    const done = await finished(suite.stack, token, id, 120_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(suite.stack.output()).toMatch(/drain period over: handing running jobs back/);
    expect(suite.stack.output().match(/worker +\| exited \(code 0\)/g)).toHaveLength(3);
  }, 240_000);

  it('fails a conversion whose video file has vanished instead of leaving it RUNNING', async () => {
    const token = await signUp(suite.stack);
    const videoId = await uploadClip(suite.stack, token, makeVideo(infra.ffmpegPath, 2));
    await finished(suite.stack, token, videoId);
    const media = suite.database('media');
    await media.collection('videos.chunks').deleteMany({ files_id: new ObjectId(videoId) });
    await media.collection('videos.files').deleteOne({ _id: new ObjectId(videoId) });
    const again = await postGraphQL<{ convertVideo: { id: string } }>(
      suite.stack.graphqlUrl,
      'mutation ($v: ID!) { convertVideo(videoId: $v) { id } }',
      { token, variables: { v: videoId } },
    );
    const done = await finished(suite.stack, token, again.body.data?.convertVideo.id ?? '');
    expect(done).toMatchObject({
      status: 'FAILED',
      error: { code: 'UNSUPPORTED_MEDIA' },
      audio: null,
    });
  });
});
