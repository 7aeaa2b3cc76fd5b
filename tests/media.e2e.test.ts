import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import amqp, { type ChannelModel } from 'amqplib';
import { SignJWT } from 'jose';
import { GridFSBucket, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseVideoDeleted, parseVideoUploaded } from '../lib/contracts/messages.js';
import { topologyNames } from '../lib/broker/topology.js';
import { makeVideo, mp4Shaped } from './helpers/fixtures.js';
import { errorCodes, postGraphQL } from './helpers/graphql.js';
import { multipartUpload, type UploadResult } from './helpers/multipartUpload.js';
import { useBrokerProxy } from './helpers/useBrokerProxy.js';
import { postGraphQLAsRouter } from './helpers/routerHop.js';
import { signUpToken, signUpUser } from './helpers/authOperations.js';
import { useStack } from './helpers/useStack.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const codeOf = (result: UploadResult) => result.body.errors?.[0]?.extensions?.code;

interface VideoFields {
  id: string;
  filename: string;
  contentType: string;
  bytes: number;
  sha256: string;
}

describe('media end to end through the router', () => {
  const suite = useStack('media', { MAX_UPLOAD_BYTES: String(256 * 2 ** 20) });
  const { infra, prefix } = suite;
  let broker: ChannelModel;
  const events: unknown[] = [];
  let clip: Buffer;

  beforeAll(async () => {
    clip = makeVideo(infra.ffmpegPath);
    broker = await amqp.connect(infra.amqpUrl);
    const channel = await broker.createChannel();
    const { exchange } = topologyNames(prefix);
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, 'video.*');
    await channel.consume(
      queue,
      (message) => {
        if (message) events.push(JSON.parse(message.content.toString()));
      },
      { noAck: true },
    );
  });
  afterAll(async () => {
    await broker?.close();
  });

  const user = () => signUpUser(suite.stack.graphqlUrl);
  const upload = (file: Buffer | Readable, options: Parameters<typeof multipartUpload>[2] = {}) =>
    multipartUpload(suite.stack.graphqlUrl, file, options);
  const video = (result: UploadResult) => result.body.data?.uploadVideo as VideoFields | undefined;
  const gridfsCounts = async () => {
    const db = suite.database('media');
    return {
      files: await db.collection('videos.files').countDocuments(),
      chunks: await db.collection('videos.chunks').countDocuments(),
      records: await db.collection('videos').countDocuments(),
    };
  };
  const download = (path: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${suite.stack.routerUrl}${path}`, {
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });

  it('uploads a generated video and downloads it back byte for byte', async () => {
    const alice = await user();
    const result = await upload(clip, { token: alice.token, filename: 'holiday.mp4' });
    expect(result.body.errors).toBeUndefined();
    const stored = video(result);
    expect(stored).toMatchObject({
      filename: 'holiday.mp4',
      contentType: 'video/mp4',
      bytes: clip.length,
      sha256: sha256(clip),
    });

    const response = await download(`/files/videos/${stored?.id}`, alice.token);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/mp4');
    expect(response.headers.get('etag')).toBe(`"${sha256(clip)}"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(clip)).toBe(true);

    const fetched = await postGraphQL(
      suite.stack.graphqlUrl,
      'query ($id: ID!) { video(id: $id) { id bytes owner { id } } }',
      {
        token: alice.token,
        variables: { id: stored?.id },
      },
    );
    expect(fetched.body.data).toEqual({
      video: { id: stored?.id, bytes: clip.length, owner: { id: alice.id } },
    });
    // The event that starts a conversion, in its documented shape. A clip under
    // REALTIME_MIN_BYTES is converted once stored: no `video.uploading` goes out before it
    // (realtime.e2e follows larger uploads, which are converted as they arrive).
    const about = () =>
      events.filter((e) => (e as { videoId?: string }).videoId === stored?.id) as {
        type: string;
      }[];
    expect(clip.length).toBeLessThan(2 ** 20);
    await expect.poll(() => about().map((e) => e.type)).toEqual(['video.uploaded']);
    const event = parseVideoUploaded(about()[0]);
    expect(event).toMatchObject({
      ownerId: alice.id,
      filename: 'holiday.mp4',
      bytes: clip.length,
      mp3: {},
    });
  });

  it('keeps the content type it detects, whatever the client claims, and cleans the name', async () => {
    const alice = await user();
    const result = await upload(clip, {
      token: alice.token,
      filename: '../../etc/ünï "q"\r\n.mp4',
      mimetype: 'text/plain',
    });
    expect(video(result)).toMatchObject({ contentType: 'video/mp4', filename: 'ünï "q".mp4' });
    const response = await download(`/files/videos/${video(result)?.id}`, alice.token);
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="_n_ _q_.mp4"; filename*=UTF-8''%C3%BCn%C3%AF%20%22q%22.mp4`,
    );
  });

  it.each([
    ['zero bytes', Buffer.alloc(0)],
    ['a text file named .mp4', Buffer.from('These are my notes, not a video.\n'.repeat(40))],
    ['a PNG image', Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(2000)])],
    [
      'an HLS playlist',
      Buffer.from('#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10,\nfile:///etc/passwd\n'),
    ],
  ])('refuses %s with UNSUPPORTED_MEDIA and stores nothing', async (_what, content) => {
    const alice = await user();
    const before = await gridfsCounts();
    const result = await upload(content, { token: alice.token, filename: 'clip.mp4' });
    expect(codeOf(result)).toBe('UNSUPPORTED_MEDIA');
    expect(await gridfsCounts()).toEqual(before);
  });

  it('refuses uploads without a token, with bad options, or without the preflight header, storing nothing', async () => {
    const alice = await user();
    const before = await gridfsCounts();
    expect(codeOf(await upload(clip))).toBe('UNAUTHENTICATED');
    const badOptions = await upload(clip, { token: alice.token, mp3: { bitrateKbps: 999 } });
    expect(badOptions.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'mp3.bitrateKbps',
    });
    const both = await upload(clip, {
      token: alice.token,
      mp3: { bitrateKbps: 128, vbrQuality: 2 },
    });
    expect(both.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'mp3.vbrQuality',
    });
    const csrf = await upload(clip, { token: alice.token, preflight: false });
    expect(csrf.status).toBe(400);
    expect(csrf.body.errors?.[0]?.message).toMatch(/CSRF/);
    expect(await gridfsCounts()).toEqual(before);
  });

  it('answers refused 1 MiB uploads with their own error, never a reset (40, 4 at a time)', async () => {
    // Media refuses bad options as soon as it reads `operations`, with most of the file still
    // on its way. Closing at once used to reset the router's stream before the router read the
    // answer: 238 of 400 such uploads came back SERVICE_UNAVAILABLE (write EPIPE).
    const alice = await user();
    const file = mp4Shaped(2 ** 20);
    const codes: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 10; i++) {
          const result = await upload(file, { token: alice.token, mp3: { bitrateKbps: 999 } });
          const code = codeOf(result);
          codes.push(typeof code === 'string' ? code : `HTTP ${result.status}`);
        }
      }),
    );
    expect(codes).toEqual(Array.from({ length: 40 }, () => 'BAD_USER_INPUT'));
  });

  it('leaves no partial file when the client disconnects mid-upload', async () => {
    const alice = await user();
    const before = await gridfsCounts();
    await upload(mp4Shaped(20 * 2 ** 20), { token: alice.token, abortAfterBytes: 5 * 2 ** 20 });
    await expect.poll(gridfsCounts, { timeout: 10_000 }).toEqual(before);
  });

  it('serves Range requests, conditional requests and HEAD', async () => {
    const alice = await user();
    const id = video(await upload(clip, { token: alice.token }))?.id ?? '';
    const path = `/files/videos/${id}`;
    const first = await download(path, alice.token, { range: 'bytes=0-0' });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-0/${clip.length}`);
    expect(Buffer.from(await first.arrayBuffer()).equals(clip.subarray(0, 1))).toBe(true);

    const suffix = await download(path, alice.token, { range: 'bytes=-500' });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(clip.subarray(clip.length - 500))).toBe(
      true,
    );

    const middle = await download(path, alice.token, { range: 'bytes=1000-1999' });
    expect(Buffer.from(await middle.arrayBuffer()).equals(clip.subarray(1000, 2000))).toBe(true);

    const past = await download(path, alice.token, { range: `bytes=${clip.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${clip.length}`);

    const cached = await download(path, alice.token, { 'if-none-match': `"${sha256(clip)}"` });
    expect(cached.status).toBe(304);

    const head = await fetch(`${suite.stack.routerUrl}${path}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(clip.length));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
  });

  it("treats another user's video as not existing, everywhere", async () => {
    const alice = await user();
    const mallory = await user();
    const id = video(await upload(clip, { token: alice.token }))?.id ?? '';
    const randomId = new ObjectId().toHexString();
    for (const target of [id, randomId]) {
      const read = await postGraphQL(
        suite.stack.graphqlUrl,
        'query ($id: ID!) { video(id: $id) { id } }',
        { token: mallory.token, variables: { id: target } },
      );
      expect(errorCodes(read)).toEqual(['NOT_FOUND']);
      const del = await postGraphQL(
        suite.stack.graphqlUrl,
        'mutation ($id: ID!) { deleteVideo(id: $id) }',
        { token: mallory.token, variables: { id: target } },
      );
      expect(errorCodes(del)).toEqual(['NOT_FOUND']);
      expect((await download(`/files/videos/${target}`, mallory.token)).status).toBe(404);
    }
    expect((await download(`/files/videos/${id}`)).status).toBe(401);
    const list = await postGraphQL<{ videos: { edges: unknown[] } }>(
      suite.stack.graphqlUrl,
      '{ videos { edges { node { id } } } }',
      { token: mallory.token },
    );
    expect(list.body.data?.videos.edges).toEqual([]);
    expect((await download(`/files/videos/${id}`, alice.token)).status).toBe(200);
  });

  it('serves an MP3 through a signed link, refusing expired and other-file links', async () => {
    const alice = await user();
    const videoId =
      video(await upload(clip, { token: alice.token, filename: 'Concert 2026.mov' }))?.id ?? '';
    // What the worker will write: an MP3 in the audio bucket with its metadata.
    const mp3 = Buffer.concat([Buffer.from('ID3'), Buffer.alloc(5000, 7)]);
    const audioId = new ObjectId();
    await new Promise((resolve, reject) =>
      Readable.from([mp3])
        .pipe(
          new GridFSBucket(suite.database('media'), {
            bucketName: 'audio',
          }).openUploadStreamWithId(audioId, 'x.mp3', {
            metadata: { owner: alice.id, videoId, durationSeconds: 3.01, bitrateKbps: 192 },
          }),
        )
        .on('finish', resolve)
        .on('error', reject),
    );
    const entities = await postGraphQLAsRouter<{
      _entities: {
        id: string;
        bytes: number;
        durationSeconds: number;
        bitrateKbps: number;
        downloadUrl: string;
      }[];
    }>(
      suite.stack.env,
      `${suite.stack.subgraphUrls.media}/graphql`,
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Audio { id bytes durationSeconds bitrateKbps downloadUrl } } }',
      {
        token: alice.token,
        variables: { r: [{ __typename: 'Audio', id: audioId.toHexString() }] },
      },
    );
    const audio = entities.body.data?._entities[0];
    expect(audio).toMatchObject({
      id: audioId.toHexString(),
      bytes: mp3.length,
      durationSeconds: 3.01,
      bitrateKbps: 192,
    });
    expect(
      audio?.downloadUrl.startsWith(
        `${suite.stack.routerUrl}/files/audio/${audioId.toHexString()}?token=`,
      ),
    ).toBe(true);

    const viaLink = await fetch(audio?.downloadUrl ?? '');
    expect(viaLink.status).toBe(200);
    expect(viaLink.headers.get('content-type')).toBe('audio/mpeg');
    expect(viaLink.headers.get('content-disposition')).toContain(
      `filename*=UTF-8''Concert%202026.mp3`,
    );
    expect(Buffer.from(await viaLink.arrayBuffer()).equals(mp3)).toBe(true);

    const secret = new TextEncoder().encode(
      readFileSync(infra.downloadSecretFile ?? '', 'utf8').trim(),
    );
    const sign = (subject: string, expires: number) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(subject)
        .setAudience('reelflux-download')
        .setIssuedAt(expires - 900)
        .setExpirationTime(expires)
        .sign(secret);
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign(`audio/${audioId.toHexString()}`, now - 10);
    const otherFile = await sign(`audio/${new ObjectId().toHexString()}`, now + 600);
    const videoLink = await sign(`videos/${videoId}`, now + 600);
    for (const token of [expired, otherFile, videoLink, 'garbage']) {
      expect(
        (
          await fetch(
            `${suite.stack.routerUrl}/files/audio/${audioId.toHexString()}?token=${token}`,
          )
        ).status,
      ).toBe(401);
    }
  });

  it('lists your videos newest first, page by page', async () => {
    const alice = await user();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(video(await upload(clip, { token: alice.token, filename: `v${i}.mp4` }))?.id ?? '');
    const page = (after?: string) =>
      postGraphQL<{
        videos: {
          edges: { cursor: string; node: { id: string } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }>(
        suite.stack.graphqlUrl,
        'query ($after: String) { videos(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
        { token: alice.token, variables: { after } },
      );
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 3; i++) {
      const data = (await page(after)).body.data?.videos;
      seen.push(...(data?.edges.map((e) => e.node.id) ?? []));
      expect(data?.pageInfo.hasNextPage).toBe(i < 2);
      after = data?.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());
    const tooMany = await postGraphQL(
      suite.stack.graphqlUrl,
      '{ videos(first: 1000) { edges { cursor } } }',
      { token: alice.token },
    );
    expect(errorCodes(tooMany)).toEqual(['BAD_USER_INPUT']);
  });

  it('deletes a video with its MP3s, announces it, and leaves nothing behind', async () => {
    const alice = await user();
    const before = await gridfsCounts();
    const id = video(await upload(clip, { token: alice.token }))?.id ?? '';
    const del = await postGraphQL(
      suite.stack.graphqlUrl,
      'mutation ($id: ID!) { deleteVideo(id: $id) }',
      { token: alice.token, variables: { id } },
    );
    expect(del.body.data).toEqual({ deleteVideo: true });
    expect(await gridfsCounts()).toEqual(before);
    expect(
      errorCodes(
        await postGraphQL(suite.stack.graphqlUrl, 'query ($id: ID!) { video(id: $id) { id } }', {
          token: alice.token,
          variables: { id },
        }),
      ),
    ).toEqual(['NOT_FOUND']);
    await expect
      .poll(() =>
        events.some(
          (e) =>
            (e as { type?: string; videoId?: string }).type === 'video.deleted' &&
            (e as { videoId?: string }).videoId === id,
        ),
      )
      .toBe(true);
    expect(
      parseVideoDeleted(
        events.find(
          (e) =>
            (e as { type?: string; videoId?: string }).type === 'video.deleted' &&
            (e as { videoId?: string }).videoId === id,
        ),
      ),
    ).toMatchObject({ ownerId: alice.id });
  });

  it('takes 50 uploads in parallel from 5 users and stores each intact', async () => {
    const users = await Promise.all(Array.from({ length: 5 }, user));
    const jobs = users.flatMap((u, userIndex) =>
      Array.from({ length: 10 }, (_, i) => {
        // Each file distinct, so a mix-up or an empty stream shows in the hash.
        const content = mp4Shaped(256 * 1024 + userIndex * 1000 + i * 7);
        content.writeUInt32LE(userIndex * 100 + i, 64);
        return { u, content };
      }),
    );
    const results = await Promise.all(
      jobs.map(({ u, content }) => upload(content, { token: u.token })),
    );
    results.forEach((result, i) => {
      const content = jobs[i]?.content ?? Buffer.alloc(0);
      expect
        .soft(video(result), `upload ${i}`)
        .toMatchObject({ bytes: content.length, sha256: sha256(content) });
    });
    for (const u of users) {
      const list = await postGraphQL<{ videos: { edges: unknown[] } }>(
        suite.stack.graphqlUrl,
        '{ videos(first: 100) { edges { node { id } } } }',
        { token: u.token },
      );
      expect(list.body.data?.videos.edges).toHaveLength(10);
    }
  });
  it('streams a 200 MB upload and keeps every byte', async () => {
    const alice = await user();
    const big = mp4Shaped(200 * 2 ** 20);
    const result = await upload(
      Readable.from(
        (function* () {
          for (let offset = 0; offset < big.length; offset += 2 ** 20)
            yield big.subarray(offset, offset + 2 ** 20);
        })(),
      ),
      { token: alice.token, filename: 'big.mp4' },
    );
    expect(video(result)).toMatchObject({ bytes: big.length, sha256: sha256(big) });
    const response = await download(`/files/videos/${video(result)?.id}`, alice.token);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    expect(bytes).toBe(big.length);
    expect(hash.digest('hex')).toBe(sha256(big));
    // Its 800 chunks would slow every later count on FerretDB; leave the database as found.
    const del = await postGraphQL(
      suite.stack.graphqlUrl,
      'mutation ($id: ID!) { deleteVideo(id: $id) }',
      {
        token: alice.token,
        variables: { id: video(result)?.id },
      },
    );
    expect(del.body.data).toEqual({ deleteVideo: true });
  }, 180_000); // 400 MB through the local store at about 20 MB/s, on a busy machine
});

describe('media upload limit', () => {
  const LIMIT = 100_000;
  const suite = useStack('limit', { MAX_UPLOAD_BYTES: String(LIMIT) });

  it('accepts a file of exactly the limit and refuses one byte more, leaving no partial file', async () => {
    const token = await signUpToken(suite.stack.graphqlUrl);
    const exact = await multipartUpload(suite.stack.graphqlUrl, mp4Shaped(LIMIT), { token });
    expect(exact.body.errors).toBeUndefined();
    const db = suite.database('media');
    const counts = async () => [
      await db.collection('videos.files').countDocuments(),
      await db.collection('videos.chunks').countDocuments(),
    ];
    const before = await counts();
    const over = await multipartUpload(suite.stack.graphqlUrl, mp4Shaped(LIMIT + 1), { token });
    expect(over.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await counts()).toEqual(before);
    const wayOver = await multipartUpload(suite.stack.graphqlUrl, mp4Shaped(LIMIT * 30), { token });
    expect(wayOver.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await counts()).toEqual(before);
  });
});

describe('media when RabbitMQ goes away', () => {
  const relay = useBrokerProxy();
  const suite = useStack('nobroker', () => ({ AMQP_URL: relay.amqpUrl }));

  it('refuses uploads it cannot announce, keeps no file, and recovers when the broker returns', async () => {
    const token = await signUpToken(suite.stack.graphqlUrl);
    const clip = mp4Shaped(300_000);
    expect(
      (await multipartUpload(suite.stack.graphqlUrl, clip, { token })).body.errors,
    ).toBeUndefined();

    const db = suite.database('media');
    const counts = async () => [
      await db.collection('videos').countDocuments(),
      await db.collection('videos.files').countDocuments(),
      await db.collection('videos.chunks').countDocuments(),
    ];
    const before = await counts();
    relay.proxy.cut();
    const refused = await multipartUpload(suite.stack.graphqlUrl, clip, { token });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(await counts()).toEqual(before);
    expect((await fetch(`${suite.stack.internalUrls.media}/readyz`)).status).toBe(503);

    relay.proxy.restore();
    await expect
      .poll(async () => (await fetch(`${suite.stack.internalUrls.media}/readyz`)).status, {
        timeout: 20_000,
        interval: 500,
      })
      .toBe(200);
    expect(
      (await multipartUpload(suite.stack.graphqlUrl, clip, { token })).body.errors,
    ).toBeUndefined();
  });
});
