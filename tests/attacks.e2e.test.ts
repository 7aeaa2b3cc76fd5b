import { PROCESS_NAMES } from '../lib/platform/processPorts.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphQLFormattedError } from 'graphql';
import { MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { LOG_IN, signUpUser } from './helpers/authOperations.js';
import { conversionUntil } from './helpers/conversionState.js';
import { makeLongAudio, makeVideo } from './helpers/fixtures.js';
import { forgeTokens } from './helpers/forgeTokens.js';
import { errorCodes, postGraphQL } from './helpers/graphql.js';
import { multipartUpload, type UploadResult } from './helpers/multipartUpload.js';
import { sendFuzzCase } from './helpers/multipartFuzz.js';
import { childPids } from './helpers/processes.js';
import { fsckFindings } from './helpers/fsck.js';
import { NESTED_INTROSPECTION, STANDARD_INTROSPECTION } from './helpers/introspection.js';
import { expectSecurityTable } from './helpers/expectSecurityTable.js';
import { timingOutcome } from './helpers/timingOutcome.js';
import { uniqueName } from './helpers/uniqueName.js';
import { closeCodeFor, watch } from './helpers/watch.js';

/**
 * Every attack in SECURITY.md's table, run against a stack in production settings
 * (introspection off, a 10 s upload limit), while another user's conversion runs. Each outcome
 * is recorded in words and must equal the table's "What happened" column, so the table is
 * what the code does, not what we hoped.
 */
describe('attacks and bad input (SECURITY.md)', { timeout: 240_000 }, () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('attack')}_`;
  const outcomes = new Map<string, string>();
  const work = mkdtempSync(join(tmpdir(), 'reelflux-attack-'));
  let stack: RunningStack;
  let mongo: MongoClient;
  let token: string;
  let userId: string;
  let victim: { token: string; conversionId: string };
  let pids: number[];
  /** A listener that must never be called: ffmpeg is for local input only. */
  let trap: Server;
  let trapHits = 0;

  const ffmpeg = (name: string, args: string[]) => {
    const out = join(work, name);
    execFileSync(infra.ffmpegPath, ['-v', 'error', '-y', ...args, out]);
    return readFileSync(out);
  };
  const signUp = () => signUpUser(stack.graphqlUrl);
  /** Uploads, then follows the conversion: the words for what the user ends up with. */
  const uploadOutcome = async (file: Buffer, filename = 'clip.mp4') => {
    const result = await multipartUpload(stack.graphqlUrl, file, { token, filename });
    const id = (result.body.data?.uploadVideo as { id: string } | undefined)?.id;
    if (!id) return `upload refused: ${errorCodes(result).join(', ')}`;
    const done = await conversionUntil(stack.graphqlUrl, token, id, { timeoutMs: 120_000 });
    return done.status === 'SUCCEEDED'
      ? 'converted: SUCCEEDED'
      : `converted: ${done.status} ${done.error?.code ?? ''}`.trim();
  };
  const httpOutcome = (result: { status: number; body: UploadResult['body'] }) =>
    `HTTP ${result.status} ${errorCodes(result).join(', ')}`.trim();
  /** Subscribes over graphql-ws and returns the `error` the router answered with. */
  const refusalOverWebSocket = async (query: string) => {
    const watched = watch(stack.graphqlUrl, token, query, {});
    const error = await watched.finished.then(
      () => [],
      (e: unknown) => e,
    );
    await watched.client.dispose();
    const errors = Array.isArray(error) ? (error as GraphQLFormattedError[]) : [];
    return {
      codes: errors.map((e) => String(e.extensions?.code)),
      messages: errors.map((e) => e.message),
    };
  };

  beforeAll(async () => {
    trap = createServer((socket) => {
      trapHits++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    stack = await spawnStack(infra, prefix, {
      INTROSPECTION: 'false',
      UPLOAD_TIMEOUT_SECONDS: '10',
      ACCOUNT_CHECK_SECONDS: '2',
    });
    mongo = new MongoClient(infra.mongodbUri);
    const attacker = await signUp();
    token = attacker.token;
    userId = attacker.id;
    // Someone else's work, running through every attack below.
    const other = await signUp();
    const upload = await multipartUpload(stack.graphqlUrl, makeLongAudio(infra.ffmpegPath, 1800), {
      token: other.token,
    });
    victim = {
      token: other.token,
      conversionId: (upload.body.data?.uploadVideo as { id: string }).id,
    };
    pids = PROCESS_NAMES.map(
      (name) => childPids(stack.launcher.pid ?? 0, `${name}/main.js`)[0] ?? 0,
    );
  });
  afterAll(async () => {
    await stack?.stop();
    await mongo?.close();
    trap?.close();
  });

  it('files: every kind of bad file gets a precise code; good odd ones convert', async () => {
    const trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}/x.mp4`;
    const video = makeVideo(infra.ffmpegPath, 3);
    const moovAt = video.indexOf('moov');
    expect(moovAt).toBeGreaterThan(video.indexOf('mdat')); // ffmpeg's default: moov at the end
    const files: Record<string, () => Buffer> = {
      'file.empty': () => Buffer.alloc(0),
      'file.random': () => randomBytes(256 * 1024),
      'file.text': () => Buffer.from('just some text\n'.repeat(1000)),
      'file.image': () =>
        ffmpeg('image.png', ['-f', 'lavfi', '-i', 'testsrc=size=320x240', '-frames:v', '1']),
      'file.archive': () => execFileSync('gzip', ['-c'], { input: video }),
      'file.truncated': () => video.subarray(0, moovAt - 4),
      'file.moovAtEnd': () => video,
      'file.noAudio': () => makeVideo(infra.ffmpegPath, 2, { audio: 'none' }),
      'file.audioOnly': () => makeLongAudio(infra.ffmpegPath, 3),
      'file.mp3': () =>
        ffmpeg('tone.mp3', ['-f', 'lavfi', '-i', 'sine=duration=3', '-c:a', 'libmp3lame']),
      'file.multiTrack': () =>
        ffmpeg('tracks.mkv', [
          '-f',
          'lavfi',
          '-i',
          'sine=frequency=440:duration=3',
          '-f',
          'lavfi',
          '-i',
          'sine=frequency=880:duration=3',
          '-map',
          '0',
          '-map',
          '1',
          '-c:a',
          'aac',
        ]),
      'file.surround': () => makeVideo(infra.ffmpegPath, 3, { channels: 6, container: 'mkv' }),
      'file.hugeResolution': () =>
        ffmpeg('huge.mkv', [
          '-f',
          'lavfi',
          '-i',
          'color=size=8192x8192:rate=1:duration=1',
          '-f',
          'lavfi',
          '-i',
          'sine=duration=3',
          '-c:v',
          'mjpeg',
          '-c:a',
          'aac',
        ]),
      'file.hls': () =>
        Buffer.from(
          `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n${trapUrl}\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n`,
        ),
      'file.ffconcat': () =>
        Buffer.from(`ffconcat version 1.0\nfile '${trapUrl}'\nfile '/etc/passwd'\n`),
    };
    for (const [id, make] of Object.entries(files)) outcomes.set(id, await uploadOutcome(make()));
    expect(trapHits).toBe(0);

    // A whole, valid index over media data that is all zeros: bad input, not a failure worth
    // another attempt.
    const faststart = makeVideo(infra.ffmpegPath, 3, { faststart: true });
    const mdat = faststart.indexOf('mdat') + 4;
    const zeroed = Buffer.concat([
      faststart.subarray(0, mdat),
      Buffer.alloc(faststart.length - mdat),
    ]);
    const upload = await multipartUpload(stack.graphqlUrl, zeroed, { token });
    const zeroedId = (upload.body.data?.uploadVideo as { id: string }).id;
    const ended = await conversionUntil(stack.graphqlUrl, token, zeroedId, { timeoutMs: 120_000 });
    outcomes.set(
      'file.zerosAfterHeader',
      `converted: ${ended.status} ${ended.error?.code ?? ''}, ${ended.attempts} attempt${ended.attempts === 1 ? '' : 's'}`,
    );
  });

  it('file names: kept readable, never a path, never a header break', async () => {
    const names: Record<string, string> = {
      'name.traversal': '../../etc/passwd.mp4',
      'name.crlf': 'a\r\nX-Injected: 1.mp4',
      'name.quotes': 'say "hi" \'there\'.mp4',
      'name.long': `${'a'.repeat(400)}.mp4`,
      'name.unicode': 'vidéo 日本語 🎬.mp4',
      // Shown right to left from U+202E on: "evilmp4.png".
      'name.bidi': 'evil\u202Egnp.mp4',
    };
    const clip = makeVideo(infra.ffmpegPath, 1);
    const badlyEncoded = await multipartUpload(stack.graphqlUrl, clip, {
      token,
      filenameStar: "say%20'hi'.mp4",
    });
    outcomes.set('name.badEncoding', httpOutcome(badlyEncoded));
    // Raw control characters in the part's header, anonymous: busboy refuses the header.
    for (const [id, name] of [
      ['name.rawNul', 'a\u0000b.mp4'],
      ['name.rawCr', 'a\rb.mp4'],
    ] as const) {
      const boundary = `----raw${id.length}`;
      const answer = await sendFuzzCase(
        stack.graphqlUrl,
        {
          label: id,
          contentType: `multipart/form-data; boundary=${boundary}`,
          body: Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"mutation($f:Upload!){uploadVideo(file:$f){id}}","variables":{"f":null}}\r\n` +
              `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.f"]}\r\n` +
              `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${name}"\r\nContent-Type: video/mp4\r\n\r\nhello\r\n--${boundary}--\r\n`,
            'latin1',
          ),
          delivery: { kind: 'whole' },
          signedIn: false,
        },
        {},
      );
      outcomes.set(
        id,
        `HTTP ${answer.status} ${errorCodes({ body: JSON.parse(answer.body) as UploadResult['body'] }).join(', ')}`,
      );
    }
    for (const [id, name] of Object.entries(names)) {
      const result = await multipartUpload(stack.graphqlUrl, clip, {
        token,
        filename: name,
        selection: 'id filename',
      });
      const stored = (result.body.data?.uploadVideo as { filename: string } | undefined)?.filename;
      outcomes.set(
        id,
        stored === undefined
          ? httpOutcome(result)
          : `stored as ${JSON.stringify(stored.length > 40 ? `${stored.slice(0, 12)}…(${[...stored].length} chars)` : stored)}`,
      );
    }
  });

  it('multipart: malformed requests are refused and store nothing; a never-ending body is cut', async () => {
    const clip = makeVideo(infra.ffmpegPath, 1);
    const operations = (variables: Record<string, unknown>) =>
      JSON.stringify({
        query:
          'mutation ($file: Upload!, $mp3: Mp3Options) { uploadVideo(file: $file, mp3: $mp3) { id } }',
        variables,
      });
    const cases: Record<string, { name: string; value: string | Buffer; filename?: string }[]> = {
      'multipart.noOperations': [
        { name: 'map', value: '{"0":["variables.file"]}' },
        { name: '0', value: clip, filename: 'a.mp4' },
      ],
      'multipart.badJson': [
        { name: 'operations', value: '{not json' },
        { name: 'map', value: '{}' },
      ],
      'multipart.mapNowhere': [
        { name: 'operations', value: operations({ file: null }) },
        { name: 'map', value: '{"0":["variables.other"]}' },
        { name: '0', value: clip, filename: 'a.mp4' },
      ],
      'multipart.mapNotUpload': [
        { name: 'operations', value: operations({ file: null, mp3: { bitrateKbps: 128 } }) },
        { name: 'map', value: '{"0":["variables.mp3.bitrateKbps"]}' },
        { name: '0', value: clip, filename: 'a.mp4' },
      ],
      'multipart.extraFiles': [
        { name: 'operations', value: operations({ file: null }) },
        { name: 'map', value: '{"0":["variables.file"],"1":["variables.file"]}' },
        { name: '0', value: clip, filename: 'a.mp4' },
        { name: '1', value: clip, filename: 'b.mp4' },
      ],
      'multipart.fileFirst': [
        { name: '0', value: clip, filename: 'a.mp4' },
        { name: 'operations', value: operations({ file: null }) },
        { name: 'map', value: '{"0":["variables.file"]}' },
      ],
    };
    const media = mongo.db(`${prefix}media`);
    const stored = () =>
      Promise.all(
        ['videos.files', 'videos.chunks'].map((c) => media.collection(c).countDocuments()),
      );
    const before = await stored();
    for (const [id, rawParts] of Object.entries(cases)) {
      outcomes.set(
        id,
        httpOutcome(await multipartUpload(stack.graphqlUrl, clip, { token, rawParts })),
      );
    }
    outcomes.set('multipart.slowloris', await slowloris(stack.graphqlUrl, token));
    // HTTP Basic credentials holding a NUL, which the store could not keep as a key.
    const nulLogin = await fetch(`${stack.routerUrl}/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('a\u0000b:c').toString('base64')}` },
    });
    outcomes.set(
      'login.nulBasic',
      httpOutcome({
        status: nulLogin.status,
        body: (await nulLogin.json()) as UploadResult['body'],
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await stored()).toEqual(before);
  });

  it('tokens: forged, stale and misdirected ones are refused; login is rate-limited', async () => {
    const privateKeyPem = readFileSync(
      infra.jwtPrivateKeyFile ?? fromRoot('.local', 'keys', 'jwt-ed25519.pem'),
      'utf8',
    );
    const forged = await forgeTokens(
      { privateKeyPem, issuer: 'reelflux', audience: 'reelflux' },
      userId,
      token,
    );
    for (const [kind, bad] of Object.entries(forged)) {
      const response = await postGraphQL(stack.graphqlUrl, '{ videos { edges { cursor } } }', {
        token: bad,
      });
      outcomes.set(`token.${kind}`, httpOutcome(response));
    }

    // Users whose account record is gone, with tokens still within their lifetime: one never
    // used before, one active until the deletion (the router believed its account for the
    // stack's 2 s ACCOUNT_CHECK_SECONDS).
    const ghost = await signUp();
    const active = await signUp();
    const activeBefore = await postGraphQL(stack.graphqlUrl, '{ me { id } }', {
      token: active.token,
    });
    expect(activeBefore.body.data).toEqual({ me: { id: active.id } });
    const users = mongo.db(`${prefix}auth`).collection('users');
    for (const gone of [ghost, active]) await users.deleteOne({ _id: new ObjectId(gone.id) });
    const ghostMe = await postGraphQL(stack.graphqlUrl, '{ me { id } }', { token: ghost.token });
    outcomes.set('token.deletedUser', httpOutcome(ghostMe));
    const ghostUpload = await multipartUpload(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 1), {
      token: ghost.token,
    });
    outcomes.set('token.deletedUserUpload', httpOutcome(ghostUpload));
    outcomes.set(
      'token.deletedUserSubscribe',
      `close ${await closeCodeFor(stack.graphqlUrl, { authorization: `Bearer ${ghost.token}` })}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const activeAfter = await postGraphQL(stack.graphqlUrl, '{ videos { edges { cursor } } }', {
      token: active.token,
    });
    outcomes.set('token.deletedUserWasActive', httpOutcome(activeAfter));

    // A download link for one file, used for another.
    const mine = await multipartUpload(stack.graphqlUrl, makeVideo(infra.ffmpegPath, 1), { token });
    const mineId = (mine.body.data?.uploadVideo as { id: string }).id;
    const done = await conversionUntil(stack.graphqlUrl, token, mineId);
    expect(done.status).toBe('SUCCEEDED');
    const link = await postGraphQL<{ conversion: { audio: { downloadUrl: string } } }>(
      stack.graphqlUrl,
      'query ($id: ID!) { conversion(id: $id) { audio { downloadUrl } } }',
      { token, variables: { id: mineId } },
    );
    const url = new URL(link.body.data?.conversion.audio.downloadUrl ?? '');
    // The link names my MP3's file id; swap in the id of the other user's upload.
    const mp3Id = url.pathname.split('/').at(-1) ?? '';
    expect(mp3Id).toMatch(/^[0-9a-f]{24}$/);
    const other = new URL(url.toString().replace(mp3Id, victim.conversionId), stack.routerUrl);
    const stolen = await fetch(`${stack.routerUrl}${other.pathname}${other.search}`);
    outcomes.set(
      'token.downloadOtherFile',
      `HTTP ${stolen.status} ${((await stolen.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code}`,
    );

    // Known and unknown emails: the same answer, in similar time (median of 5 each: under the
    // per-email limit, and with the brute force below, under the per-client one). Taken in
    // turns, so a burst of load on the machine (the other user's conversion, another test
    // file) weighs on both alike.
    const timeLogin = async (email: string) => {
      const started = performance.now();
      const response = await postGraphQL(stack.graphqlUrl, LOG_IN, {
        variables: { email, password: 'not the password at all' },
      });
      expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
      return performance.now() - started;
    };
    // A fresh account, so the per-email limiter does not answer first.
    const knownEmail = (await signUp()).email;
    const unknownEmail = `${uniqueName('nobody')}@example.com`;
    const knownTimes: number[] = [];
    const unknownTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      knownTimes.push(await timeLogin(knownEmail));
      unknownTimes.push(await timeLogin(unknownEmail));
    }
    outcomes.set('login.timing', timingOutcome('same UNAUTHENTICATED', knownTimes, unknownTimes));

    // Brute force: wrong passwords until the limiter answers.
    const target = await signUp();
    let attempts = 0;
    let code: unknown;
    do {
      attempts++;
      const response = await postGraphQL(stack.graphqlUrl, LOG_IN, {
        variables: { email: target.email, password: `guess number ${attempts}` },
      });
      code = errorCodes(response)[0];
    } while (code === 'UNAUTHENTICATED' && attempts < 50);
    outcomes.set('login.bruteForce', `${String(code)} after ${attempts - 1} failures`);
  });

  it('GraphQL: deep, wide, batched, huge and introspective requests are refused', async () => {
    const nest = (depth: number): string =>
      depth === 0 ? 'id' : `conversions { edges { node { video { ${nest(depth - 1)} } } } }`;
    const deep = await postGraphQL(
      stack.graphqlUrl,
      `{ me { id } videos { edges { node { ${nest(4)} } } } }`,
      {
        token,
      },
    );
    outcomes.set('graphql.deep', httpOutcome(deep));

    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: me { id }`).join(' ');
    outcomes.set(
      'graphql.aliases',
      httpOutcome(await postGraphQL(stack.graphqlUrl, `{ ${aliases} }`, { token })),
    );

    const batch = await fetch(stack.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]),
    });
    outcomes.set(
      'graphql.batch',
      httpOutcome({ status: batch.status, body: (await batch.json()) as UploadResult['body'] }),
    );

    const huge = await postGraphQL(stack.graphqlUrl, 'query ($id: ID!) { video(id: $id) { id } }', {
      token,
      variables: { id: 'x'.repeat(2 * 2 ** 20) },
    });
    outcomes.set('graphql.hugeVariables', httpOutcome(huge));

    const introspection = await postGraphQL(stack.graphqlUrl, '{ __schema { types { name } } }', {
      token,
    });
    outcomes.set('graphql.introspection', httpOutcome(introspection));
    for (const [id, query] of [
      ['introspectionFull', STANDARD_INTROSPECTION.full],
      ['introspectionDeep', NESTED_INTROSPECTION],
    ] as const) {
      outcomes.set(
        `graphql.${id}`,
        httpOutcome(await postGraphQL(stack.graphqlUrl, query, { token })),
      );
      outcomes.set(`ws.${id}`, `error: ${(await refusalOverWebSocket(query)).codes.join(', ')}`);
    }
    const typo = await refusalOverWebSocket('subscription { conversionUpdatd(id: "x") { id } }');
    outcomes.set(
      'ws.suggestions',
      /did you mean/i.test(typo.messages.join('\n')) ? 'suggests "conversionUpdated"' : 'no hint',
    );
  });

  it('SECURITY.md states exactly what happened, and the other user’s work went on', async () => {
    const done = await conversionUntil(stack.graphqlUrl, victim.token, victim.conversionId, {
      timeoutMs: 300_000,
    });
    expect(done.status).toBe('SUCCEEDED');
    // Nothing crashed: the same processes as at the start.
    const now = PROCESS_NAMES.map(
      (name) => childPids(stack.launcher.pid ?? 0, `${name}/main.js`)[0] ?? 0,
    );
    expect(now).toEqual(pids);
    expect(stack.restarts(), stack.output()).toBe(0);
    // No attack reached a code path we did not foresee: nothing was logged as an internal error.
    expect(
      stack
        .output()
        .split('\n')
        .filter((line) => line.includes('"level":50')),
    ).toEqual([]);

    expectSecurityTable(outcomes);

    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  }, 320_000);
});

/**
 * A multipart upload that sends its headers and a little of its body, then one byte a second
 * for ever. Returns how the server ended it.
 */
function slowloris(graphqlUrl: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const started = Date.now();
    const boundary = 'slowloris';
    const req = request(graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'apollo-require-preflight': 'true',
        authorization: `Bearer ${token}`,
      },
    });
    const drip = setInterval(() => req.write('x'), 1_000);
    const end = (how: string) => {
      clearInterval(drip);
      // The time varies with Node's check interval; the log line says how long it took.
      process.stdout.write(`slowloris ended after ${(Date.now() - started) / 1000} s\n`);
      resolve(how);
    };
    req.on('response', (res) => {
      res.resume();
      end(`HTTP ${res.statusCode}`);
    });
    req.on('error', () => end('connection closed'));
    req.write(
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({
        query: 'mutation ($file: Upload!) { uploadVideo(file: $file) { id } }',
        variables: { file: null },
      })}\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.file"]}\r\n--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
    );
  });
}
