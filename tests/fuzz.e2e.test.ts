import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { signUpUser, type TestUser } from './helpers/authOperations.js';
import { conversionUntil } from './helpers/conversionState.js';
import { makeVideo } from './helpers/fixtures.js';
import { fsckFindings } from './helpers/fsck.js';
import { postGraphQL } from './helpers/graphql.js';
import { multipartUpload } from './helpers/multipartUpload.js';
import {
  fuzzCaseArb,
  sendFuzzCase,
  type FuzzAnswer,
  type FuzzCase,
} from './helpers/multipartFuzz.js';
import { childPids } from './helpers/processes.js';
import { routerHopHeaders } from './helpers/routerHop.js';
import { useStack } from './helpers/useStack.js';

/** The same cases every run unless asked otherwise (docs/testing.md has the longer run). */
const SEED = Number(process.env.FUZZ_SEED ?? 26);
const ROUTER_RUNS = Number(process.env.FUZZ_RUNS ?? 1200);
const MEDIA_RUNS = Math.ceil(ROUTER_RUNS / 3);

/**
 * Mutated multipart uploads (boundaries, part headers, filenames, operations and map, order,
 * truncation, stalls and drops; tests/helpers/multipartFuzz.ts) sent on raw sockets to the real
 * router, and to media directly with the router's signed hop, while another user's upload
 * streams. No request may end a process: each is answered with a code or taken, the launcher
 * restarts nothing, the other upload arrives whole, and fsck finds nothing afterwards.
 */
describe('multipart fuzzing against the real processes', { timeout: 600_000 }, () => {
  const suite = useStack('fuzz');
  const { infra, prefix } = suite;
  let fuzzer: TestUser;
  let bystander: TestUser;
  let video: Buffer;
  let pids: number[];

  beforeAll(async () => {
    video = makeVideo(infra.ffmpegPath, 1);
    fuzzer = await signUpUser(suite.stack.graphqlUrl);
    bystander = await signUpUser(suite.stack.graphqlUrl);
    pids = childPids(suite.stack.launcher.pid ?? 0, 'node').sort();
  });

  /** Runs the cases one after another, each answered as it must be. */
  const fuzz = async (
    url: string,
    runs: number,
    sign: (fuzzCase: FuzzCase, headers: Record<string, string>) => Record<string, string>,
  ) => {
    let answered = 0;
    /** How the cases ended, printed so a run shows which paths it reached. */
    const tally = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fuzzCaseArb(video), async (fuzzCase) => {
        const headers = fuzzCase.signedIn ? { authorization: `Bearer ${fuzzer.token}` } : {};
        const answer = await sendFuzzCase(url, fuzzCase, {
          ...headers,
          ...sign(fuzzCase, headers),
        });
        const outcome = expectAnswered(fuzzCase, answer);
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
        if (answer.status !== undefined) answered++;
      }),
      { seed: SEED, numRuns: runs },
    );
    console.log(
      `fuzz ${url} seed ${SEED}: ${[...tally]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
    return answered;
  };

  it(`answers ${ROUTER_RUNS} mutated uploads to the router with a code, while another user's upload streams unharmed`, async () => {
    const whole = makeVideo(infra.ffmpegPath, 20);
    const feed = new PassThrough();
    const bystanderUpload = multipartUpload(suite.stack.graphqlUrl, feed, {
      token: bystander.token,
      filename: 'bystander.mp4',
    });
    // Half of it before the fuzzing, the rest in small pieces while it runs, so the upload is
    // in flight throughout.
    let sent = Math.floor(whole.length / 2);
    feed.write(whole.subarray(0, sent));
    const drip = setInterval(() => {
      const next = Math.min(whole.length - 1, sent + 2048);
      feed.write(whole.subarray(sent, next));
      sent = next;
    }, 200);

    let answered: number;
    try {
      answered = await fuzz(suite.stack.graphqlUrl, ROUTER_RUNS, () => ({}));
    } finally {
      clearInterval(drip);
      feed.end(whole.subarray(sent));
    }
    // Most cases end in an answer; the rest dropped their own connection.
    expect(answered).toBeGreaterThan(ROUTER_RUNS / 2);

    const result = await bystanderUpload;
    const uploaded = result.body.data?.uploadVideo as { id: string } | undefined;
    expect(result.body.errors).toBeUndefined();
    const stored = await postGraphQL<{ video: { sha256: string; bytes: number } }>(
      suite.stack.graphqlUrl,
      'query ($id: ID!) { video(id: $id) { sha256 bytes } }',
      { token: bystander.token, variables: { id: uploaded?.id } },
    );
    expect(stored.body.data?.video).toEqual({
      sha256: createHash('sha256').update(whole).digest('hex'),
      bytes: whole.length,
    });
    const conversion = await postGraphQL<{ video: { latestConversion: { id: string } } }>(
      suite.stack.graphqlUrl,
      'query ($id: ID!) { video(id: $id) { latestConversion { id } } }',
      { token: bystander.token, variables: { id: uploaded?.id } },
    );
    const done = await conversionUntil(
      suite.stack.graphqlUrl,
      bystander.token,
      conversion.body.data?.video.latestConversion.id ?? '',
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(done.audio?.durationSeconds).toBeCloseTo(20, 0);
  });

  it(`answers ${MEDIA_RUNS} mutated uploads sent to media directly, with the router's signed hop`, async () => {
    // Signed as the router signs a streamed upload: the case's Content-Type, boundary and all.
    const url = `${suite.stack.subgraphUrls.media}/graphql`;
    const answered = await fuzz(url, MEDIA_RUNS, (fuzzCase, headers) =>
      routerHopHeaders(suite.stack.env, { url, headers, streamedUpload: fuzzCase.contentType }),
    );
    expect(answered).toBeGreaterThan(MEDIA_RUNS / 2);
  });

  it('restarted no process, and leaves the store consistent once the accepted uploads are converted', async () => {
    expect(suite.stack.restarts(), suite.stack.output()).toBe(0);
    expect(childPids(suite.stack.launcher.pid ?? 0, 'node').sort()).toEqual(pids);
    await settleConversions(suite.stack.graphqlUrl, fuzzer.token);
    expect(
      await fsckFindings({ mongodbUri: infra.mongodbUri, amqpUrl: infra.amqpUrl, prefix }),
    ).toEqual([]);
  });
});

/**
 * An answer is owed to every case that did not drop its own connection, and every answer is
 * an upload taken or an error with a code, never a server error.
 */
function expectAnswered(fuzzCase: FuzzCase, answer: FuzzAnswer): string {
  const { delivery } = fuzzCase;
  const dropped =
    delivery.kind === 'aborted' || (delivery.kind === 'stalled' && delivery.then === 'abort');
  if (answer.status === undefined) {
    if (!dropped) throw new Error(`no answer to: ${fuzzCase.label}`);
    return 'dropped';
  }
  let body: { data?: { uploadVideo?: { id?: unknown } } | null; errors?: unknown[] };
  try {
    body = JSON.parse(answer.body) as typeof body;
  } catch {
    throw new Error(
      `answer ${answer.status} is not JSON (${answer.body.slice(0, 200)}) to: ${fuzzCase.label}`,
    );
  }
  const taken = typeof body.data?.uploadVideo?.id === 'string';
  const codes = (body.errors ?? []).map(
    (error) => (error as { extensions?: { code?: unknown } }).extensions?.code,
  );
  if (
    answer.status >= 500 ||
    codes.includes('INTERNAL_SERVER_ERROR') ||
    (!taken && (codes.length === 0 || codes.some((c) => typeof c !== 'string')))
  ) {
    throw new Error(`answer ${answer.status} ${answer.body.slice(0, 300)} to: ${fuzzCase.label}`);
  }
  return taken ? 'taken' : `${answer.status} ${codes.join('+')}`;
}

interface VideoPage {
  videos: {
    edges: { node: { latestConversion: { id: string; status: string } | null } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/** Waits until every conversion of the user's videos has ended. */
async function settleConversions(graphqlUrl: string, token: string): Promise<void> {
  const query = /* GraphQL */ `
    query ($after: String) {
      videos(first: 100, after: $after) {
        edges {
          node {
            latestConversion {
              id
              status
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `;
  let after: string | null = null;
  for (;;) {
    const page: { body: { data?: VideoPage | null } } = await postGraphQL<VideoPage>(
      graphqlUrl,
      query,
      { token, variables: { after } },
    );
    const videos = page.body.data?.videos;
    if (!videos) throw new Error(`videos not listed: ${JSON.stringify(page.body)}`);
    for (const { node } of videos.edges) {
      const conversion = node.latestConversion;
      if (conversion && !isFinalStatus(conversion.status))
        await conversionUntil(graphqlUrl, token, conversion.id, { timeoutMs: 120_000 });
    }
    if (!videos.pageInfo.hasNextPage) return;
    after = videos.pageInfo.endCursor;
  }
}
