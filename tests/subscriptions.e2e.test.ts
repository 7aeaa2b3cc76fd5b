import { spawn, type ChildProcess } from 'node:child_process';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { freePort } from '../scripts/spawnStack.js';
import { fsckFindings } from './helpers/fsck.js';
import { signUpToken } from './helpers/authOperations.js';
import { makeLongAudio, makeVideo, probeMp3 } from './helpers/fixtures.js';
import { errorCodes, postGraphQL } from './helpers/graphql.js';
import { uploadVideoId } from './helpers/multipartUpload.js';
import { useStack } from './helpers/useStack.js';
import { createReelfluxClient } from '../sdk/index.js';
import { closeCodeFor, watch } from './helpers/watch.js';
import { watchThroughOutage } from './helpers/watchThroughOutage.js';

interface Update {
  id: string;
  status: string;
  progress: number | null;
  video: { filename: string };
  audio: { downloadUrl: string; bytes: number } | null;
}

const BY_VIDEO = /* GraphQL */ `
  subscription ($videoId: ID) {
    conversionUpdated(videoId: $videoId) {
      ...Shown
      video {
        filename
      }
      audio {
        downloadUrl
        bytes
      }
    }
  }
  fragment Shown on Conversion {
    id
    status
    progress
  }
`;
const BY_ID = /* GraphQL */ `
  subscription ($id: ID) {
    update: conversionUpdated(id: $id) {
      id
      status
      audio {
        bytes
      }
    }
  }
`;
const ORDER = ['QUEUED', 'RUNNING', 'SUCCEEDED'];

describe('conversionUpdated over graphql-ws', () => {
  const suite = useStack('subs', { WORKER_CONCURRENCY: '2' });
  const { infra, prefix } = suite;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([signUp(), signUp()]);
  });

  const signUp = () => signUpToken(suite.stack.graphqlUrl);
  const upload = (file: Buffer, filename: string, token = alice) =>
    uploadVideoId(suite.stack.graphqlUrl, file, { token, filename });
  /** What a router's metrics say, read on its internal port. */
  const activeSubscriptions = async (internalUrl = suite.stack.internalUrls.router) => {
    const metrics = await (await fetch(`${internalUrl}/metrics`)).text();
    return Number(/^graphql_subscriptions_active\{[^}]*\} (\d+)/m.exec(metrics)?.[1]);
  };

  it('streams QUEUED → RUNNING with rising progress → SUCCEEDED, with federated fields', async () => {
    const videoId = await upload(makeLongAudio(infra.ffmpegPath, 900), 'Talk.m4a');
    const watched = watch<{ conversionUpdated: Update }>(suite.stack.graphqlUrl, alice, BY_VIDEO, {
      videoId,
    });
    await watched.finished;
    const updates = watched.results.map((r) => r.data?.conversionUpdated as Update);
    expect(watched.results.every((r) => r.errors === undefined)).toBe(true);

    const statuses = updates.map((u) => u.status);
    expect(statuses.map((s) => ORDER.indexOf(s))).toEqual(
      [...statuses.map((s) => ORDER.indexOf(s))].sort((a, b) => a - b),
    );
    expect(statuses).toContain('RUNNING');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    const running = updates.filter((u) => u.status === 'RUNNING').map((u) => u.progress ?? 0);
    expect(new Set(running).size).toBeGreaterThan(2);
    expect([...running].sort((a, b) => a - b)).toEqual(running);

    const last = updates.at(-1) as Update;
    expect(last).toMatchObject({ id: videoId, progress: 1, video: { filename: 'Talk.m4a' } });
    const mp3 = Buffer.from(await (await fetch(last.audio?.downloadUrl ?? '')).arrayBuffer());
    expect(mp3.length).toBe(last.audio?.bytes);
    expect(probeMp3(infra.ffprobePath, mp3).durationSeconds).toBeCloseTo(900, 0);
    await expect.poll(() => activeSubscriptions()).toBe(0);
  });

  it('gives a finished conversion its final state once, then completes', async () => {
    const id = await upload(makeVideo(infra.ffmpegPath, 2), 'short.mp4');
    await watch(suite.stack.graphqlUrl, alice, BY_VIDEO, { videoId: id }).finished;

    const late = watch<{ update: Update }>(suite.stack.graphqlUrl, alice, BY_ID, { id });
    await late.finished;
    expect(late.results).toHaveLength(1);
    expect(late.results[0]?.data?.update).toMatchObject({ id, status: 'SUCCEEDED' });
    expect(late.results[0]?.data?.update.audio?.bytes).toBeGreaterThan(0);
  });

  it("treats another user's conversion exactly like one that does not exist", async () => {
    const id = await upload(makeVideo(infra.ffmpegPath, 2), 'private.mp4');
    const refusal = async (variables: Record<string, unknown>, query = BY_ID) => {
      const watched = watch(suite.stack.graphqlUrl, bob, query, variables);
      const error = await watched.finished.then(
        () => undefined,
        (e: unknown) => e,
      );
      void watched.client.dispose();
      return { error, results: watched.results };
    };
    const theirs = await refusal({ id });
    const missing = await refusal({ id: new ObjectId().toHexString() });
    expect(theirs.results).toEqual([]);
    expect((theirs.error as { extensions: { code: string } }[])[0]?.extensions.code).toBe(
      'NOT_FOUND',
    );
    expect(JSON.stringify(theirs.error).replaceAll(id, 'ID')).toBe(
      JSON.stringify(missing.error).replace(/[0-9a-f]{24}/g, 'ID'),
    );
    const theirVideo = await refusal({ videoId: id }, BY_VIDEO);
    expect((theirVideo.error as { extensions: { code: string } }[])[0]?.extensions.code).toBe(
      'NOT_FOUND',
    );
  });

  it('closes the socket 4401 without a token and 4403 with a bad one', async () => {
    expect(await closeCodeFor(suite.stack.graphqlUrl, {})).toBe(4401);
    expect(await closeCodeFor(suite.stack.graphqlUrl, { authorization: 'Bearer not.a.jwt' })).toBe(
      4403,
    );
    expect(await closeCodeFor(suite.stack.graphqlUrl, { authorization: `Bearer ${alice}x` })).toBe(
      4403,
    );
  });

  it('refuses a subscription sent over HTTP and a query sent over the socket, with codes', async () => {
    const overHttp = await postGraphQL(suite.stack.graphqlUrl, BY_ID, {
      token: alice,
      variables: { id: new ObjectId().toHexString() },
    });
    expect(errorCodes(overHttp)).toEqual(['BAD_REQUEST']);

    const queryOverSocket = watch(suite.stack.graphqlUrl, alice, '{ me { id } }', {});
    await expect(queryOverSocket.finished).rejects.toMatchObject([
      { extensions: { code: 'BAD_REQUEST' } },
    ]);
    const noTarget = watch(
      suite.stack.graphqlUrl,
      alice,
      'subscription { conversionUpdated { id } }',
      {},
    );
    await expect(noTarget.finished).rejects.toMatchObject([
      { extensions: { code: 'BAD_USER_INPUT' } },
    ]);
  });

  it('frees a vanished client’s subscription', async () => {
    const id = await upload(makeLongAudio(infra.ffmpegPath, 900), 'long.m4a');
    const watched = watch(suite.stack.graphqlUrl, alice, BY_ID, { id });
    // The socket is cut from under the client: its own promise ends in a close error.
    watched.finished.catch(() => undefined);
    await expect.poll(() => watched.results.length).toBeGreaterThan(0);
    expect(await activeSubscriptions()).toBe(1);
    watched.drop();
    await expect.poll(() => activeSubscriptions()).toBe(0);
    await postGraphQL(
      suite.stack.graphqlUrl,
      'mutation ($id: ID!) { cancelConversion(id: $id) { id } }',
      {
        token: alice,
        variables: { id },
      },
    );
  });

  describe('with a second router on the same broker', () => {
    let second: ChildProcess | undefined;
    let secondUrl: string;
    let secondInternalUrl: string;
    let port: number;
    let internalPort: number;

    /** A router process of its own (not the launcher's), so the test can stop and restart it. */
    async function startSecondRouter(): Promise<void> {
      second = spawn(process.execPath, [fromRoot('dist', 'router', 'main.js')], {
        env: {
          ...suite.stack.env,
          ROUTER_PORT: String(port),
          ROUTER_INTERNAL_PORT: String(internalPort),
          AUTH_URL: suite.stack.subgraphUrls.auth,
          MEDIA_URL: suite.stack.subgraphUrls.media,
          CONVERSION_URL: suite.stack.subgraphUrls.conversion,
          NOTIFICATION_URL: suite.stack.subgraphUrls.notification,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let errors = '';
      second.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      const deadline = Date.now() + 30_000;
      while (
        (await fetch(`${secondInternalUrl}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) !== 200
      ) {
        if (Date.now() > deadline)
          throw new Error(`the second router never became ready: ${errors}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }

    beforeAll(async () => {
      port = await freePort();
      internalPort = await freePort();
      secondUrl = `http://127.0.0.1:${port}`;
      secondInternalUrl = `http://127.0.0.1:${internalPort}`;
      await startSecondRouter();
    });
    afterAll(() => {
      second?.kill('SIGTERM');
    });

    it('serves each router’s own subscribers from the same events', async () => {
      const videoId = await upload(makeLongAudio(infra.ffmpegPath, 120), 'both.m4a');
      const one = watch<{ conversionUpdated: Update }>(suite.stack.graphqlUrl, alice, BY_VIDEO, {
        videoId,
      });
      const two = watch<{ conversionUpdated: Update }>(`${secondUrl}/graphql`, alice, BY_VIDEO, {
        videoId,
      });
      await Promise.all([one.finished, two.finished]);
      for (const watched of [one, two]) {
        expect(watched.results.at(-1)?.data?.conversionUpdated.status).toBe('SUCCEEDED');
      }
      expect(await activeSubscriptions(secondInternalUrl)).toBe(0);
    });

    it('lets an SDK client ride out a router restart and get the current state again', async () => {
      const videoId = await upload(makeLongAudio(infra.ffmpegPath, 1800), 'restart.m4a');
      const reelflux = createReelfluxClient({ url: secondUrl, token: alice });
      const watched = await watchThroughOutage(reelflux, videoId, async () => {
        const exited = new Promise((resolve) => second?.once('exit', resolve));
        second?.kill('SIGTERM');
        // SIGTERM closes the sockets with 1001 and the router exits 0 without waiting.
        expect(await exited).toBe(0);
        // Down long enough that the client's reconnects are refused at least once.
        await new Promise((resolve) => setTimeout(resolve, 4_000));
        await startSecondRouter();
      });
      expect(watched.interrupted).toBe(true);
      expect(watched.statuses.at(-1)).toBe('SUCCEEDED');
    });
  });

  it('leaves the databases and queues consistent', async () => {
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  });
});
