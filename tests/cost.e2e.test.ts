import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { request } from 'node:http';
import amqp, { type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { LOG_IN, PASSWORD, SIGN_UP, signUpUser } from './helpers/authOperations.js';
import { conversionState, conversionUntil } from './helpers/conversionState.js';
import { makeLongAudio, makeVideo, mp4Shaped } from './helpers/fixtures.js';
import { fsckFindings } from './helpers/fsck.js';
import { errorCodes, postGraphQL, type GraphQLResponse, tallyCodes } from './helpers/graphql.js';
import { multipartUpload, uploadVideoId } from './helpers/multipartUpload.js';
import { postGraphQLAsRouter } from './helpers/routerHop.js';
import { expectSecurityTable } from './helpers/expectSecurityTable.js';
import { timingOutcome } from './helpers/timingOutcome.js';
import { uniqueName } from './helpers/uniqueName.js';
import { watch } from './helpers/watch.js';

/**
 * What one client can cost, and whom each service trusts (SECURITY.md, "Cost and trust"):
 * every row of that table is tried here against a stack with small, known limits, and the
 * table must say exactly what happened. The router believes one proxy hop, so each request
 * can name its client address in X-Forwarded-For, as a load balancer in front would.
 */
describe('cost and trust (SECURITY.md)', { timeout: 300_000 }, () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('cost')}_`;
  const outcomes = new Map<string, string>();
  let stack: RunningStack;
  let addressCount = 0;
  const newAddress = () => `198.51.100.${++addressCount}`;

  const signUp = (address = newAddress()) =>
    signUpUser(stack.graphqlUrl, { 'x-forwarded-for': address });
  const logIn = (email: string, password: string, address: string) =>
    postGraphQL<{ logIn: { token: string } }>(stack.graphqlUrl, LOG_IN, {
      variables: { email, password },
      headers: { 'x-forwarded-for': address },
    });
  const codeOf = (response: Pick<GraphQLResponse<unknown>, 'body'>) => {
    const code = errorCodes(response)[0];
    return typeof code === 'string' ? code : 'none';
  };

  /** Publishes as anyone holding a broker credential could: straight to RabbitMQ, confirmed. */
  const publishRaw = async (publish: (channel: ConfirmChannel) => void) => {
    const connection = await amqp.connect(infra.amqpUrl);
    const channel = await connection.createConfirmChannel();
    publish(channel);
    await channel.waitForConfirms();
    await connection.close();
  };

  beforeAll(async () => {
    stack = await spawnStack(infra, prefix, {
      TRUSTED_PROXY_HOPS: '1',
      INTROSPECTION: 'false',
      SIGNUPS_PER_CLIENT_PER_HOUR: '3',
      UPLOADS_PER_MINUTE: '4',
      MUTATIONS_PER_MINUTE: '60',
      MAX_ACTIVE_CONVERSIONS_PER_USER: '3',
      MAX_RUNNING_CONVERSIONS_PER_USER: '1',
      MAX_STORED_BYTES_PER_USER: String(40_000_000),
      MAX_MEDIA_SECONDS: '1500',
      WORKER_CONCURRENCY: '2',
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('query cost: nested lists are priced before they run, over HTTP, WebSocket and direct', async () => {
    const user = await signUp();
    const videoId = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 1), {
      token: user.token,
    });
    await conversionUntil(stack.graphqlUrl, user.token, videoId);
    const level = (inner: string) =>
      `conversions(first: 100) { edges { node { video { ${inner} } } } }`;
    // Two levels of 100, within the depth limit: 10,000 conversions' videos, asked in one line.
    const cyclic = `query ($v: ID!) { video(id: $v) { ${level(level('id'))} } }`;
    const refused = await postGraphQL(stack.graphqlUrl, cyclic, {
      token: user.token,
      variables: { v: videoId },
    });
    const extensions = refused.body.errors?.[0]?.extensions ?? {};
    expect(extensions.cost).toBeGreaterThan(100 ** 2);
    expect(extensions.maxCost).toBe(5000);
    outcomes.set('cost.cyclicQuery', `HTTP ${refused.status} ${codeOf(refused)}`);

    // The same one level deep is cheap, and answers.
    const cheap = await postGraphQL<{
      video: { conversions: { edges: { node: { video: { id: string } } }[] } };
    }>(stack.graphqlUrl, `query ($v: ID!) { video(id: $v) { ${level('id')} } }`, {
      token: user.token,
      variables: { v: videoId },
    });
    expect(cheap.body.data?.video.conversions.edges.map((e) => e.node.video.id)).toEqual([videoId]);

    const subscribed = watch(
      stack.graphqlUrl,
      user.token,
      `subscription ($v: ID!) { conversionUpdated(videoId: $v) { id video { ${level(level('id'))} } } }`,
      { v: videoId },
    );
    const ended = await subscribed.finished.then(
      () => 'completed',
      (error: unknown) =>
        `error: ${String((error as { extensions?: { code?: string } }[])[0]?.extensions?.code)}`,
    );
    await subscribed.client.dispose();
    outcomes.set('cost.subscription', ended);

    // Around the router, straight at the conversion subgraph: refused unless signed as the
    // router signs, and then held to the same limit.
    const directQuery = `query ($v: ID!) { conversion(id: $v) { video { ${level(level('id'))} } } }`;
    const unsigned = await postGraphQL(`${stack.subgraphUrls.conversion}/graphql`, directQuery, {
      token: user.token,
      variables: { v: videoId },
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    outcomes.set('trust.unsignedSubgraph', `HTTP ${unsigned.status} ${codeOf(unsigned)}`);
    const signed = await postGraphQLAsRouter(
      stack.env,
      `${stack.subgraphUrls.conversion}/graphql`,
      directQuery,
      { token: user.token, variables: { v: videoId } },
    );
    outcomes.set('cost.subgraphDirect', `HTTP ${signed.status} ${codeOf(signed)}`);
  });

  it('login: a concurrent burst gets no more guesses, and strangers cannot lock owners out', async () => {
    const target = await signUp();
    const attacker = newAddress();
    const burst = await Promise.all(
      Array.from({ length: 60 }, (_, i) => logIn(target.email, `guess ${i}`, attacker)),
    );
    outcomes.set('login.burst', tallyCodes(burst.map(codeOf)));
    const after = await logIn(target.email, PASSWORD, attacker);
    expect(codeOf(after)).toBe('RATE_LIMITED');

    // The owner has logged in before from home; a stranger's failures do not stop that.
    const owner = await signUp();
    const home = newAddress();
    expect((await logIn(owner.email, PASSWORD, home)).body.data?.logIn.token).toBeTruthy();
    const stranger = newAddress();
    for (let i = 0; i < 10; i++) await logIn(owner.email, `guess ${i}`, stranger);
    const atHome = await logIn(owner.email, PASSWORD, home);
    outcomes.set(
      'login.lockoutByStranger',
      atHome.body.data?.logIn.token ? 'owner logs in' : codeOf(atHome),
    );
  });

  it('sign-ups: limited per client address, and a taken email answers as slowly as a new one', async () => {
    const address = newAddress();
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await postGraphQL(stack.graphqlUrl, SIGN_UP, {
        variables: { email: `${uniqueName('many')}@example.com`, password: PASSWORD },
        headers: { 'x-forwarded-for': address },
      });
      codes.push(codeOf(response));
      if (i === 3)
        expect(response.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    }
    outcomes.set('signup.perClient', tallyCodes(codes));

    const taken = (await signUp()).email;
    /** One sign-up from an address of its own: its time, and its code. */
    const time = async (email: string) => {
      const started = performance.now();
      const response = await postGraphQL(stack.graphqlUrl, SIGN_UP, {
        variables: { email, password: PASSWORD },
        headers: { 'x-forwarded-for': newAddress() },
      });
      return { ms: performance.now() - started, code: codeOf(response) };
    };
    // Five of each, in turns, so a burst of load weighs on both alike; medians compared.
    const takenTimes: number[] = [];
    const freshTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const again = await time(taken);
      expect(again.code).toBe('BAD_USER_INPUT');
      takenTimes.push(again.ms);
      const fresh = await time(`${uniqueName('fresh')}@example.com`);
      expect(fresh.code).toBe('none');
      freshTimes.push(fresh.ms);
    }
    outcomes.set('signup.timing', timingOutcome('EMAIL_TAKEN', takenTimes, freshTimes));
  });

  it('quotas: uploads per minute, stored bytes, and conversions queued by one request', async () => {
    const uploader = await signUp();
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const result = await multipartUpload(stack.graphqlUrl, randomBytes(4096), {
        token: uploader.token,
      });
      codes.push(codeOf(result));
    }
    outcomes.set('quota.uploadsPerMinute', tallyCodes(codes));

    const hoarder = await signUp();
    const first = await multipartUpload(stack.graphqlUrl, mp4Shaped(24_000_000), {
      token: hoarder.token,
    });
    expect(errorCodes(first)).toEqual([]);
    const second = await multipartUpload(stack.graphqlUrl, mp4Shaped(24_000_000), {
      token: hoarder.token,
    });
    const listed = await postGraphQL<{ videos: { edges: unknown[] } }>(
      stack.graphqlUrl,
      '{ videos { edges { node { id } } } }',
      { token: hoarder.token },
    );
    outcomes.set(
      'quota.storedBytes',
      `${codeOf(second)} ${String(second.body.errors?.[0]?.extensions?.reason)}, ${listed.body.data?.videos.edges.length} video kept`,
    );

    // One request with 30 aliases of convertVideo, while the upload's own conversion (20 min
    // of audio) runs: with it, 3 may be active.
    const busy = await signUp();
    const videoId = await uploadVideoId(stack.graphqlUrl, makeLongAudio(infra.ffmpegPath, 1200), {
      token: busy.token,
    });
    await conversionUntil(stack.graphqlUrl, busy.token, videoId, {
      done: (state) => state.status !== 'QUEUED',
    });
    const aliases = Array.from(
      { length: 30 },
      (_, i) => `c${i}: convertVideo(videoId: $v) { id }`,
    ).join(' ');
    const many = await postGraphQL<Record<string, { id: string } | null>>(
      stack.graphqlUrl,
      `mutation ($v: ID!) { ${aliases} }`,
      { token: busy.token, variables: { v: videoId } },
    );
    // A mutation's fields run in order and stop at the first error (convertVideo is non-null).
    const listed2 = await postGraphQL<{
      video: { conversions: { edges: { node: { id: string } }[] } };
    }>(
      stack.graphqlUrl,
      'query ($v: ID!) { video(id: $v) { conversions(first: 100) { edges { node { id } } } } }',
      {
        token: busy.token,
        variables: { v: videoId },
      },
    );
    const conversions = listed2.body.data?.video.conversions.edges.map((e) => e.node.id) ?? [];
    const queued = conversions.filter((id) => id !== videoId);
    outcomes.set(
      'quota.aliasedConversions',
      `${tallyCodes(errorCodes(many).map(String))}; the video has ${conversions.length} conversions`,
    );

    // Fair turns: that backlog runs one at a time, and another user's clip does not wait for it.
    const other = await signUp();
    const clip = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 2), {
      token: other.token,
    });
    const clipDone = await conversionUntil(stack.graphqlUrl, other.token, clip);
    const backlog = await Promise.all(
      [videoId, ...queued].map(
        async (id) => (await conversionState(stack.graphqlUrl, busy.token, id))?.status ?? 'gone',
      ),
    );
    outcomes.set(
      'quota.fairTurns',
      `other user's clip ${clipDone.status}; backlog ${backlog.join(', ')}`,
    );
    // Ten separate requests at once, from a user with one conversion running: the count is
    // taken again once each new conversion exists, so no two pass on the same last place.
    const racer = await signUp();
    const raced = await uploadVideoId(stack.graphqlUrl, makeLongAudio(infra.ffmpegPath, 1200), {
      token: racer.token,
    });
    await conversionUntil(stack.graphqlUrl, racer.token, raced, {
      done: (state) => state.status !== 'QUEUED',
    });
    await Promise.all(
      Array.from({ length: 10 }, () =>
        postGraphQL(stack.graphqlUrl, 'mutation ($v: ID!) { convertVideo(videoId: $v) { id } }', {
          token: racer.token,
          variables: { v: raced },
        }),
      ),
    );
    const racedList = await postGraphQL<{
      video: { conversions: { edges: { node: { id: string; status: string } }[] } };
    }>(
      stack.graphqlUrl,
      'query ($v: ID!) { video(id: $v) { conversions(first: 100) { edges { node { id status } } } } }',
      { token: racer.token, variables: { v: raced } },
    );
    const racedAll = racedList.body.data?.video.conversions.edges.map((e) => e.node) ?? [];
    const active = racedAll.filter((c) => c.status === 'QUEUED' || c.status === 'RUNNING');
    outcomes.set(
      'quota.parallelConversions',
      active.length <= 3 ? 'at most 3 queued or running' : `${active.length} queued or running`,
    );
    for (const { id } of active) {
      await postGraphQL(
        stack.graphqlUrl,
        'mutation ($id: ID!) { cancelConversion(id: $id) { id } }',
        { token: racer.token, variables: { id } },
      );
    }

    for (const id of [videoId, ...queued]) {
      await postGraphQL(
        stack.graphqlUrl,
        'mutation ($id: ID!) { cancelConversion(id: $id) { id } }',
        {
          token: busy.token,
          variables: { id },
        },
      );
    }
  });

  it('trickled uploads: thirty uploads that send a head and then a byte every 5 s take no worker from others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reelflux-trickle-'));
    const webm = join(dir, 'head.webm');
    execFileSync(infra.ffmpegPath, [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=10'],
      ...['-f', 'lavfi', '-i', 'sine=duration=10', '-c:v', 'libvpx', '-deadline', 'realtime'],
      ...['-cpu-used', '8', '-b:v', '800k', '-c:a', 'libopus', webm],
    ]);
    const head = readFileSync(webm).subarray(0, 64 * 1024);
    // Ten free accounts, three uploads each: 64 KiB of a real WebM, then a byte every 5 s.
    const feeds: PassThrough[] = [];
    const trickles: Promise<unknown>[] = [];
    for (let account = 0; account < 10; account++) {
      const { token } = await signUp();
      for (let n = 0; n < 3; n++) {
        const feed = new PassThrough();
        feed.write(head);
        feeds.push(feed);
        trickles.push(multipartUpload(stack.graphqlUrl, feed, { token, filename: 'slow.webm' }));
      }
    }
    const drip = setInterval(() => {
      for (const feed of feeds) feed.write(Buffer.from([0]));
    }, 5_000);
    try {
      // What a worker would have taken by now, it has.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      const other = await signUp();
      const started = performance.now();
      const videoId = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 10), {
        token: other.token,
      });
      const done = await conversionUntil(stack.graphqlUrl, other.token, videoId, {
        timeoutMs: 30_000,
        done: (state) => state.status !== 'QUEUED' && state.status !== 'RUNNING',
      }).catch(() => null);
      const seconds = (performance.now() - started) / 1000;
      outcomes.set(
        'cost.trickledUploads',
        done?.status === 'SUCCEEDED' && seconds <= 5
          ? "other user's 10 s clip SUCCEEDED within 5 s"
          : `other user's 10 s clip ${done?.status ?? 'still waiting'} after ${seconds.toFixed(1)} s`,
      );
    } finally {
      clearInterval(drip);
      // The clients give up: each upload is cut off, and media removes what it stored.
      for (const feed of feeds) feed.destroy(new Error('gave up'));
      await Promise.all(trickles);
    }
  }, 120_000);

  it('quotas: MP3s and uploads in flight count against the storage quota', async () => {
    // 1,400 s of silence at 44.1 kHz as FLAC, well under 1 MB; at 320 kbps its MP3 would be
    // 56 MB, well over the 40 MB quota.
    const dir = mkdtempSync(join(tmpdir(), 'reelflux-quota-'));
    const flac = join(dir, 'quiet.flac');
    execFileSync(infra.ffmpegPath, [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=mono', '-t', '1400'],
      ...['-c:a', 'flac', flac],
    ]);
    const grower = await signUp();
    const videoId = await uploadVideoId(stack.graphqlUrl, readFileSync(flac), {
      token: grower.token,
      filename: 'quiet.flac',
      mp3: { bitrateKbps: 320 },
    });
    const done = await conversionUntil(stack.graphqlUrl, grower.token, videoId, {
      timeoutMs: 120_000,
    });
    const stored = await postGraphQL<{
      videos: { edges: { node: { bytes: number; latestConversion: { audio: unknown } } }[] };
    }>(
      stack.graphqlUrl,
      '{ videos { edges { node { bytes latestConversion { audio { bytes } } } } } }',
      {
        token: grower.token,
      },
    );
    const bytes = (stored.body.data?.videos.edges ?? []).reduce(
      (sum, { node }) =>
        sum + node.bytes + ((node.latestConversion.audio as { bytes?: number } | null)?.bytes ?? 0),
      0,
    );
    outcomes.set(
      'quota.mp3Bytes',
      `converted: ${done.status} ${done.error?.code ?? ''}; ${bytes <= 40_000_000 ? 'within' : 'over'} the quota`,
    );

    // Two 24 MB uploads at once into an empty 40 MB quota: each holds its room while it streams.
    const parallel = await signUp();
    const results = await Promise.all(
      [1, 2].map(() =>
        multipartUpload(stack.graphqlUrl, mp4Shaped(24_000_000), { token: parallel.token }),
      ),
    );
    outcomes.set('quota.parallelUploads', tallyCodes(results.map(codeOf)));
  }, 180_000);

  it('media bounds: a source over MAX_MEDIA_SECONDS fails before it is converted', async () => {
    const user = await signUp();
    const id = await uploadVideoId(stack.graphqlUrl, makeLongAudio(infra.ffmpegPath, 1600), {
      token: user.token,
    });
    const done = await conversionUntil(stack.graphqlUrl, user.token, id, { timeoutMs: 120_000 });
    outcomes.set('media.tooLong', `converted: ${done.status} ${done.error?.code ?? ''}`.trim());
  });

  it('trust: a job message naming another video converts only the record’s own', async () => {
    const victim = await signUp();
    const victimVideo = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 5), {
      token: victim.token,
    });
    const attacker = await signUp();
    // A long conversion holds the attacker's one turn, so the next waits with no job sent.
    const long = await uploadVideoId(stack.graphqlUrl, makeLongAudio(infra.ffmpegPath, 400), {
      token: attacker.token,
    });
    const own = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 2), {
      token: attacker.token,
    });
    // Its conversion exists (the upload event was handled) and waits for the attacker's turn.
    const waiting = await conversionUntil(stack.graphqlUrl, attacker.token, own, {
      done: (state) => state.status !== 'RUNNING',
    });
    expect(waiting.status).toBe('QUEUED');
    const forged = {
      type: 'conversion.job',
      version: 1,
      conversionId: own,
      videoId: victimVideo,
      ownerId: attacker.id,
      filename: 'stolen.mp4',
      options: {},
    };
    await publishRaw((channel) =>
      channel.sendToQueue(`${prefix}conversion.jobs`, Buffer.from(JSON.stringify(forged)), {
        persistent: true,
      }),
    );
    const done = await conversionUntil<{
      status: string;
      audio: { durationSeconds: number } | null;
    }>(stack.graphqlUrl, attacker.token, own, {
      fields: 'status audio { durationSeconds }',
      timeoutMs: 120_000,
    });
    const seconds = done.audio?.durationSeconds ?? 0;
    outcomes.set(
      'trust.forgedJob',
      `${done.status}, ${Math.abs(seconds - 2) < 0.5 ? "the attacker's own 2 s video" : `${seconds.toFixed(1)} s`}`,
    );
    await conversionUntil(stack.graphqlUrl, attacker.token, long, { timeoutMs: 120_000 });
  });

  it('trust: an upload event naming another owner cannot move a video to them', async () => {
    const victim = await signUp();
    const victimVideo = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 2), {
      token: victim.token,
    });
    await conversionUntil(stack.graphqlUrl, victim.token, victimVideo);
    const attacker = await signUp();
    // Published to the events exchange as media would, by anyone holding a broker credential.
    const forged = {
      type: 'video.uploading',
      version: 1,
      videoId: victimVideo,
      ownerId: attacker.id,
      filename: 'mine.mp4',
      mp3: {},
    };
    await publishRaw((channel) =>
      channel.publish(
        `${prefix}reelflux.events`,
        'video.uploading',
        Buffer.from(JSON.stringify(forged)),
        { persistent: true, type: 'video.uploading' },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const taken = await postGraphQL<{ convertVideo: { id: string } }>(
      stack.graphqlUrl,
      'mutation ($v: ID!) { convertVideo(videoId: $v) { id } }',
      { token: attacker.token, variables: { v: victimVideo } },
    );
    const mine = await postGraphQL<{ convertVideo: { id: string } }>(
      stack.graphqlUrl,
      'mutation ($v: ID!) { convertVideo(videoId: $v) { id } }',
      { token: victim.token, variables: { v: victimVideo } },
    );
    outcomes.set(
      'trust.forgedUploading',
      `attacker's convertVideo: ${codeOf(taken)}; owner's: ${mine.body.data?.convertVideo.id ? 'converts' : codeOf(mine)}`,
    );
  });

  it('edges: path tricks, id spellings, schema hints and slow bodies', async () => {
    // Sent as written: fetch() would resolve the dots itself before sending.
    const traversal = await new Promise<number>((resolve, reject) => {
      const { hostname, port } = new URL(stack.routerUrl);
      request({ hostname, port, path: '/files/%2e%2e/metrics' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    outcomes.set('edge.filesTraversal', `HTTP ${traversal}`);

    const user = await signUp();
    const videoId = await uploadVideoId(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 1), {
      token: user.token,
    });
    await conversionUntil(stack.graphqlUrl, user.token, videoId);
    const deleted = await postGraphQL<{ deleteVideo: boolean }>(
      stack.graphqlUrl,
      'mutation ($id: ID!) { deleteVideo(id: $id) }',
      { token: user.token, variables: { id: videoId.toUpperCase() } },
    );
    expect(deleted.body.data?.deleteVideo).toBe(true);
    let left = 'conversion kept';
    for (let i = 0; i < 50; i++) {
      const state = await postGraphQL(
        stack.graphqlUrl,
        'query ($id: ID!) { conversion(id: $id) { id } }',
        {
          token: user.token,
          variables: { id: videoId },
        },
      );
      if (codeOf(state) === 'NOT_FOUND') {
        left = 'conversion gone';
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    outcomes.set('edge.upperCaseDelete', left);

    const typo = await postGraphQL(stack.graphqlUrl, '{ mee { id } }', { token: user.token });
    outcomes.set(
      'edge.suggestions',
      /did you mean/i.test(JSON.stringify(typo.body)) ? 'suggests "me"' : 'no hint',
    );

    const started = Date.now();
    const slow = await new Promise<string>((resolve) => {
      const req = request(stack.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '1000' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(`HTTP ${res.statusCode}`);
      });
      req.on('error', () => resolve('connection closed'));
      req.write('{"query": "{ me ');
    });
    const seconds = (Date.now() - started) / 1000;
    outcomes.set(
      'edge.slowBody',
      seconds < 30 ? `${slow} within 30 s` : `${slow} after ${seconds} s`,
    );
  }, 120_000);

  it('SECURITY.md states exactly what happened, nothing restarted, and nothing was left behind', async () => {
    // No request may end a process: the launcher restarted none.
    expect(stack.restarts(), stack.output()).toBe(0);
    expectSecurityTable(outcomes, 'Cost and trust: what we tried, what happened');
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  });
});
