import { spawn, type ChildProcess } from 'node:child_process';
import amqp from 'amqplib';
import { ObjectId } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConversionUpdated, type ConversionUpdated } from '../lib/contracts/messages.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { topologyNames } from '../lib/broker/topology.js';
import { freePort } from '../scripts/spawnStack.js';
import { conversionState, conversionUntil } from './helpers/conversionState.js';
import { fsckFindings } from './helpers/fsck.js';
import { signUpToken } from './helpers/authOperations.js';
import { makeLongAudio, makeVideo, mp4Shaped, probeMp3 } from './helpers/fixtures.js';
import { errorCodes, postGraphQL } from './helpers/graphql.js';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { uploadVideoId } from './helpers/multipartUpload.js';
import { childPids } from './helpers/processes.js';
import { useStack } from './helpers/useStack.js';

interface ConversionView {
  id: string;
  status: string;
  progress: number | null;
  attempts: number;
  error: { code: string; message: string } | null;
  startedAt: string | null;
  finishedAt: string | null;
  options: Record<string, unknown>;
  audio: {
    id: string;
    bytes: number;
    durationSeconds: number;
    bitrateKbps: number;
    downloadUrl: string;
  } | null;
}

const CONVERSION_FIELDS =
  'id status progress attempts error { code message } startedAt finishedAt options { bitrateKbps vbrQuality title artist } audio { id bytes durationSeconds bitrateKbps downloadUrl }';

describe('conversion end to end', () => {
  const suite = useStack('conv', {
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'info',
    // One user's jobs fill every worker slot here: these tests are about workers, and
    // fair turns between users have their own test (cost.e2e).
    MAX_RUNNING_CONVERSIONS_PER_USER: '8',
  });
  const { infra, prefix } = suite;
  let token: string;
  let clip10: Buffer;

  beforeAll(async () => {
    clip10 = makeVideo(infra.ffmpegPath, 10);
    token = await signUp();
  });

  const signUp = () => signUpToken(suite.stack.graphqlUrl);
  const upload = (
    file: Buffer,
    mp3: Record<string, unknown> = {},
    filename = 'clip.mp4',
    as = token,
  ) => uploadVideoId(suite.stack.graphqlUrl, file, { token: as, mp3, filename });
  const conversion = (id: string) =>
    conversionState<ConversionView>(suite.stack.graphqlUrl, token, id, {
      fields: CONVERSION_FIELDS,
    });
  const until = (id: string, done: (c: ConversionView) => boolean, timeoutMs = 60_000) =>
    conversionUntil<ConversionView>(suite.stack.graphqlUrl, token, id, {
      fields: CONVERSION_FIELDS,
      done,
      timeoutMs,
    });
  const finished = (id: string, timeoutMs?: number) =>
    until(id, (c) => isFinalStatus(c.status), timeoutMs);
  const mp3Of = async (c: ConversionView) =>
    Buffer.from(await (await fetch(c.audio?.downloadUrl ?? '')).arrayBuffer());
  /**
   * A long audio (320 kbps, 48 kHz: ffmpeg is busy for seconds) uploaded and converting, past
   * `minProgress`; returns the conversion's id.
   */
  const runningLongAudio = async (seconds: number, filename: string, minProgress: number) => {
    const id = await upload(
      makeLongAudio(infra.ffmpegPath, seconds),
      { bitrateKbps: 320, sampleRateHz: 48000 },
      filename,
    );
    await until(id, (c) => c.status === 'RUNNING' && (c.progress ?? 0) > minProgress);
    return id;
  };
  /** The pid of the stack's worker process. */
  const workerPid = () => childPids(suite.stack.launcher.pid ?? 0, 'worker/main.js')[0] ?? 0;
  const audioFilesFor = (conversionId: string) =>
    suite
      .database('media')
      .collection('audio.files')
      .countDocuments({ 'metadata.conversionId': conversionId });

  it('turns a 10 s video into a 192 kbps MP3 of the same length', async () => {
    // The upload's first conversion has the video's id.
    const id = await upload(clip10, {}, 'Holiday Film.mp4');
    const done = await finished(id);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      progress: 1,
      attempts: 1,
      error: null,
      options: { bitrateKbps: 192, title: 'Holiday Film' },
    });
    expect(done.startedAt).toBeTruthy();
    expect(done.finishedAt).toBeTruthy();
    const mp3 = await mp3Of(done);
    expect(mp3.length).toBe(done.audio?.bytes);
    const facts = probeMp3(infra.ffprobePath, mp3);
    expect(facts.codec).toBe('mp3');
    expect(Math.abs(facts.durationSeconds - 10)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(facts.bitrateKbps - 192)).toBeLessThanOrEqual(2);
    expect(facts.tags.title).toBe('Holiday Film');
    expect(done.audio?.bitrateKbps).toBe(facts.bitrateKbps);
    expect(Math.abs((done.audio?.durationSeconds ?? 0) - facts.durationSeconds)).toBeLessThan(0.01);
  });

  it('applies each MP3 option', async () => {
    const stereo48k = makeVideo(infra.ffmpegPath, 4, { sampleRateHz: 48000, channels: 2 });
    const surround = makeVideo(infra.ffmpegPath, 4, { channels: 6 });
    const cases: [
      string,
      Buffer,
      Record<string, unknown>,
      (f: ReturnType<typeof probeMp3>, mp3: Buffer) => void,
    ][] = [
      [
        '128 kbps',
        stereo48k,
        { bitrateKbps: 128 },
        (f) => expect(Math.abs(f.bitrateKbps - 128)).toBeLessThanOrEqual(2),
      ],
      [
        'VBR quality 2',
        stereo48k,
        { vbrQuality: 2 },
        (_f, mp3) => expect(mp3.includes('Xing')).toBe(true),
      ],
      ['mono', stereo48k, { channels: 1 }, (f) => expect(f.channels).toBe(1)],
      ['44.1 kHz', stereo48k, { sampleRateHz: 44100 }, (f) => expect(f.sampleRateHz).toBe(44100)],
      [
        'trim 1–3 s',
        stereo48k,
        { startSeconds: 1, endSeconds: 3 },
        (f) => expect(Math.abs(f.durationSeconds - 2)).toBeLessThanOrEqual(0.1),
      ],
      [
        'ID3 tags',
        stereo48k,
        { title: 'Tïtle «1»', artist: 'Ärtist' },
        (f) => expect(f.tags).toMatchObject({ title: 'Tïtle «1»', artist: 'Ärtist' }),
      ],
      ['5.1 downmixed', surround, {}, (f) => expect(f.channels).toBe(2)],
      [
        'constant bitrate by default',
        stereo48k,
        {},
        (_f, mp3) => expect(mp3.includes('Xing')).toBe(false),
      ],
    ];
    const ids = await Promise.all(cases.map(([, file, mp3]) => upload(file, mp3)));
    for (const [index, [name, , , check]] of cases.entries()) {
      const done = await finished(ids[index] ?? '');
      expect(done.status, name).toBe('SUCCEEDED');
      const mp3 = await mp3Of(done);
      const facts = probeMp3(infra.ffprobePath, mp3);
      expect(facts.codec, name).toBe('mp3');
      check(facts, mp3);
    }
  });

  it('copies an MP3 audio stream instead of re-encoding it', async () => {
    const id = await upload(
      makeVideo(infra.ffmpegPath, 4, { audio: 'mp3', container: 'mkv' }),
      {},
      'already.mkv',
    );
    const done = await finished(id);
    expect(done.status).toBe('SUCCEEDED');
    // Re-encoding would give the 192 kbps default; a copy keeps the source's 96 kbps.
    expect(
      Math.abs(probeMp3(infra.ffprobePath, await mp3Of(done)).bitrateKbps - 96),
    ).toBeLessThanOrEqual(2);
  });

  it.each([
    [
      'a video without audio',
      () => makeVideo(infra.ffmpegPath, 2, { audio: 'none' }),
      {},
      'NO_AUDIO_STREAM',
    ],
    ['random bytes behind an MP4 header', () => mp4Shaped(200_000), {}, 'UNSUPPORTED_MEDIA'],
    [
      'a trim past the end',
      () => makeVideo(infra.ffmpegPath, 2),
      { startSeconds: 1, endSeconds: 30 },
      'TRIM_OUT_OF_RANGE',
    ],
  ])('fails %s at once with its code', async (_what, make, mp3, code) => {
    const id = await upload(make(), mp3);
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'FAILED', attempts: 1, audio: null, error: { code } });
    expect(await audioFilesFor(id)).toBe(0);
  });

  it('converts again with other options, newest first, for the owner only', async () => {
    const videoId = await upload(makeVideo(infra.ffmpegPath, 3));
    await finished(videoId);
    const again = await postGraphQL<{ convertVideo: { id: string; status: string } }>(
      suite.stack.graphqlUrl,
      'mutation ($v: ID!) { convertVideo(videoId: $v, mp3: { bitrateKbps: 64, channels: 1 }) { id status } }',
      { token, variables: { v: videoId } },
    );
    const second = again.body.data?.convertVideo.id ?? '';
    expect(again.body.data?.convertVideo.status).toBe('QUEUED');
    const done = await finished(second);
    expect(
      Math.abs(probeMp3(infra.ffprobePath, await mp3Of(done)).bitrateKbps - 64),
    ).toBeLessThanOrEqual(2);

    const video = await postGraphQL<{
      video: {
        conversions: { edges: { node: { id: string } }[] };
        latestConversion: { id: string; audio: { id: string } };
      };
    }>(
      suite.stack.graphqlUrl,
      'query ($v: ID!) { video(id: $v) { conversions { edges { node { id } } } latestConversion { id audio { id } } } }',
      { token, variables: { v: videoId } },
    );
    expect(video.body.data?.video.conversions.edges.map((e) => e.node.id)).toEqual([
      second,
      videoId,
    ]);
    // Each run stores its MP3 under an id of its own.
    expect(video.body.data?.video.latestConversion).toEqual({
      id: second,
      audio: { id: expect.stringMatching(/^[0-9a-f]{24}$/) as unknown },
    });

    // Someone else's video and conversion are not there at all, whatever is asked of them.
    const other = await signUp();
    for (const [query, variables] of [
      ['mutation ($v: ID!) { convertVideo(videoId: $v) { id } }', { v: videoId }],
      ['query ($id: ID!) { conversion(id: $id) { id } }', { id: second }],
      ['mutation ($id: ID!) { cancelConversion(id: $id) { id } }', { id: second }],
    ] as const) {
      const answer = await postGraphQL(suite.stack.graphqlUrl, query, { token: other, variables });
      expect(errorCodes(answer), query).toEqual(['NOT_FOUND']);
    }
    const bad = await postGraphQL(
      suite.stack.graphqlUrl,
      'mutation ($v: ID!) { convertVideo(videoId: $v, mp3: { channels: 3 }) { id } }',
      { token, variables: { v: videoId } },
    );
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'mp3.channels',
    });
  });

  it('cancels a running conversion: ffmpeg is gone within 2 s and no MP3 is left', async () => {
    const id = await runningLongAudio(1800, 'long.m4a', 0.01);
    const cancelled = await postGraphQL<{ cancelConversion: { status: string } }>(
      suite.stack.graphqlUrl,
      'mutation ($id: ID!) { cancelConversion(id: $id) { status } }',
      { token, variables: { id } },
    );
    expect(cancelled.body.data?.cancelConversion.status).toBe('CANCELLED');
    const worker = workerPid();
    await expect
      .poll(() => childPids(worker, 'ffmpeg').length, { timeout: 2_000, interval: 100 })
      .toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await conversion(id))?.status).toBe('CANCELLED');
    expect(await audioFilesFor(id)).toBe(0);
  });

  it('survives kill -9 of the worker mid-job: redelivered, rerun, exactly one MP3', async () => {
    const id = await runningLongAudio(900, 'crash.m4a', 0.05);
    process.kill(workerPid(), 'SIGKILL');
    const done = await finished(id, 120_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(await audioFilesFor(id)).toBe(1);
    expect(
      Math.abs(probeMp3(infra.ffprobePath, await mp3Of(done)).durationSeconds - 900),
    ).toBeLessThanOrEqual(0.1);
  });

  it('lets two workers drain 20 jobs with none done twice', async () => {
    const port = await freePort();
    const second: ChildProcess = spawn(process.execPath, [fromRoot('dist', 'worker', 'main.js')], {
      env: {
        ...suite.stack.env,
        WORKER_INTERNAL_PORT: String(port),
        WORKER_CONCURRENCY: '2',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let log = '';
    second.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await expect
        .poll(
          async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status,
          { timeout: 20_000 },
        )
        .toBe(200);
      const clip = makeVideo(infra.ffmpegPath, 2);
      const ids = await Promise.all(
        Array.from({ length: 20 }, (_, i) => upload(clip, {}, `batch-${i}.mp4`)),
      );
      for (const id of ids) {
        const done = await finished(id, 120_000);
        expect.soft(done, id).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
        expect.soft(await audioFilesFor(id), id).toBe(1);
      }
      // Both took part: the second worker's log names some of these conversions.
      expect(ids.filter((id) => log.includes(id)).length).toBeGreaterThan(0);
      expect(ids.filter((id) => log.includes(id)).length).toBeLessThan(20);
    } finally {
      second.kill('SIGTERM');
    }
    // Twenty jobs through FerretDB on two cores: a minute when the machine is busy.
  }, 180_000);

  it('publishes conversion.updated for every state, with progress rising in between', async () => {
    const connection = await amqp.connect(infra.amqpUrl);
    try {
      const channel = await connection.createChannel();
      const { exchange } = topologyNames(prefix);
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, exchange, 'conversion.updated');
      const events: ConversionUpdated[] = [];
      await channel.consume(
        queue,
        (message) => {
          if (message) events.push(parseConversionUpdated(JSON.parse(message.content.toString())));
        },
        { noAck: true },
      );

      const id = await upload(
        makeLongAudio(infra.ffmpegPath, 600),
        { bitrateKbps: 320 },
        'events.m4a',
      );
      await finished(id);
      await expect
        .poll(() => events.filter((e) => e.conversionId === id).at(-1)?.status)
        .toBe('SUCCEEDED');
      const mine = events.filter((e) => e.conversionId === id);
      expect(mine[0]?.status).toBe('QUEUED');
      expect(mine[1]).toMatchObject({ status: 'RUNNING', progress: 0 });
      const progress = mine.filter((e) => e.status === 'RUNNING').map((e) => e.progress ?? 0);
      expect(progress.length).toBeGreaterThan(2);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      expect(mine.at(-1)).toMatchObject({ status: 'SUCCEEDED', progress: 1 });
      expect(mine.every((e) => e.videoId === id)).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it('keeps ids of deleted videos out of reach, and deletes their conversions', async () => {
    const videoId = await upload(makeVideo(infra.ffmpegPath, 2));
    await finished(videoId);
    await postGraphQL(suite.stack.graphqlUrl, 'mutation ($id: ID!) { deleteVideo(id: $id) }', {
      token,
      variables: { id: videoId },
    });
    await expect
      .poll(
        async () =>
          errorCodes(
            await postGraphQL(
              suite.stack.graphqlUrl,
              'query ($id: ID!) { conversion(id: $id) { id } }',
              {
                token,
                variables: { id: videoId },
              },
            ),
          ),
        { timeout: 10_000 },
      )
      .toEqual(['NOT_FOUND']);
    expect(await audioFilesFor(videoId)).toBe(0);
    expect(
      await suite.database('conversion').collection('conversions').countDocuments({ videoId }),
    ).toBe(0);
    expect(new ObjectId(videoId).toHexString()).toBe(videoId);
  });

  it('keeps no conversion of a video deleted while, or before, its upload event is handled', async () => {
    // The two events travel on separate queues, so conversion can handle them at the same
    // moment, or the deletion first. Published back to back, in both orders, for 40 videos.
    const connection = await amqp.connect(infra.amqpUrl);
    const ids = Array.from({ length: 40 }, () => new ObjectId().toHexString());
    try {
      const channel = await connection.createConfirmChannel();
      const { exchange } = topologyNames(prefix);
      const ownerId = new ObjectId().toHexString();
      const publish = (type: 'video.uploaded' | 'video.deleted', videoId: string) =>
        channel.publish(
          exchange,
          type,
          Buffer.from(
            JSON.stringify(
              type === 'video.uploaded'
                ? { type, version: 1, videoId, ownerId, filename: 'gone.mp4', bytes: 1, mp3: {} }
                : { type, version: 1, videoId, ownerId },
            ),
          ),
          { persistent: true },
        );
      ids.forEach((id, i) => {
        if (i % 2 === 0) {
          publish('video.uploaded', id);
          publish('video.deleted', id);
        } else {
          publish('video.deleted', id);
          publish('video.uploaded', id);
        }
      });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    const db = suite.database('conversion');
    // Every deletion handled (40 tombstones), and both queues empty, then a moment for the
    // handlers still running.
    await expect
      .poll(
        () =>
          db
            .collection<{ _id: string; deleted?: true }>('videos')
            .countDocuments({ _id: { $in: ids }, deleted: true }),
        {
          timeout: 20_000,
        },
      )
      .toBe(40);
    const { queues } = topologyNames(prefix);
    const check = await amqp.connect(infra.amqpUrl);
    try {
      const channel = await check.createChannel();
      const waiting = async () =>
        (await channel.checkQueue(queues.videoUploaded)).messageCount +
        (await channel.checkQueue(queues.videoDeleted)).messageCount;
      await expect.poll(waiting, { timeout: 20_000 }).toBe(0);
    } finally {
      await check.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await db.collection('conversions').countDocuments({ videoId: { $in: ids } })).toBe(0);
  });

  it('leaves media, conversions and queues consistent after all of the above (fsck)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  });
});
