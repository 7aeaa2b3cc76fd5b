import { connect } from 'node:net';
import fc from 'fast-check';

/*
 * Mutated GraphQL multipart requests, as fast-check arbitraries, and a sender that writes them
 * on a raw socket (Node's own client would refuse to send most of them). A case describes
 * itself in `label`, so a failing one can be replayed by hand.
 */

/** How a case's bytes go out. */
export type Delivery =
  | { kind: 'whole' }
  /** Cut at `at` bytes, then ended properly (chunked): the server sees a short body. */
  | { kind: 'truncated'; at: number }
  /** A pause of `ms` after `at` bytes, then the rest, or a dropped connection. */
  | { kind: 'stalled'; at: number; ms: number; then: 'finish' | 'abort' }
  /** The connection dropped after `at` bytes: nobody is left to answer. */
  | { kind: 'aborted'; at: number };

export interface FuzzCase {
  label: string;
  contentType: string;
  body: Buffer;
  delivery: Delivery;
  /** Sent with the fuzzing account's token; anonymous otherwise. */
  signedIn: boolean;
}

export interface FuzzAnswer {
  /** Undefined when the connection closed without an answer. */
  status?: number;
  body: string;
}

const QUERY = 'mutation ($f: Upload!) { uploadVideo(file: $f) { id } }';
const BIDI = ['\u202E', '\u2066', '\u200F', '\u061C'];

const filenameArb = fc.oneof(
  fc.constantFrom(
    'clip.mp4',
    'a\u0000b.mp4',
    'a\rb.mp4',
    'a\nb.mp4',
    'a"b.mp4',
    '\\"quoted\\".mp4',
    `evil${BIDI[0]}gnp.mp4`,
    '../../etc/passwd',
    '',
    'x'.repeat(10_000),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(fc.constantFrom(...BIDI, 'a', '.', ' ', '\u0007', '\u00e9'), { maxLength: 12 })
    .map((chars) => chars.join('')),
);

/**
 * Each way a request can go wrong, its first value the well-formed one. A case mutates at most
 * two of them, so most cases get far enough into the request to test what lies behind the
 * first check (a request wrong in every way is refused at the first).
 */
const DIMENSIONS = {
  boundary: ['normal', 'quoted', 'missing', 'tooLong', 'repeated', 'mismatched', 'noClosing'],
  headerStyle: ['normal', 'upper', 'folded', 'duplicated', 'noName', 'noDisposition', 'garbage'],
  filenameStyle: ['both', 'quoted', 'rfc5987', 'invalidUtf8', 'none'],
  operations: ['valid', 'broken', 'huge', 'array', 'notObject', 'noVariable', 'variableSet'],
  map: ['valid', 'broken', 'proto', 'deep', 'query', 'twice', 'twoFiles', 'empty', 'notObject'],
  order: ['spec', 'fileFirst', 'mapFirst', 'noFile', 'noMap', 'twoFiles', 'extraField'],
} as const;
type Dimension = keyof typeof DIMENSIONS;
type Mutation = { [D in Dimension]: (typeof DIMENSIONS)[D][number] };

const mutationArb: fc.Arbitrary<Mutation> = fc
  .tuple(
    fc.record(
      Object.fromEntries(
        Object.entries(DIMENSIONS).map(([name, values]) => [
          name,
          fc.constantFrom(...values.slice(1)),
        ]),
      ) as { [D in Dimension]: fc.Arbitrary<Mutation[D]> },
    ),
    fc.subarray(Object.keys(DIMENSIONS) as Dimension[], { maxLength: 2 }),
  )
  .map(([mutated, chosen]) => {
    const shape = Object.fromEntries(
      (Object.keys(DIMENSIONS) as Dimension[]).map((name) => [
        name,
        chosen.includes(name) ? mutated[name] : DIMENSIONS[name][0],
      ]),
    );
    return shape as Mutation;
  });

const contentArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<'text'>('text') },
  { weight: 4, arbitrary: fc.constant<'random'>('random') },
  { weight: 1, arbitrary: fc.constant<'video'>('video') },
);

interface Shape extends Mutation {
  filename: string;
  content: 'text' | 'random' | 'video';
  randomBytes: Uint8Array;
  signedIn: boolean;
  deliveryKind: Delivery['kind'];
  cutFraction: number;
  stallMs: number;
  stallThen: 'finish' | 'abort';
}

const shapeArb: fc.Arbitrary<Shape> = fc
  .tuple(
    mutationArb,
    fc.record({
      filename: filenameArb,
      content: contentArb,
      randomBytes: fc.uint8Array({ maxLength: 4096 }),
      signedIn: fc.oneof(
        { weight: 3, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      deliveryKind: fc.oneof(
        { weight: 6, arbitrary: fc.constant<Delivery['kind']>('whole') },
        { weight: 2, arbitrary: fc.constant<Delivery['kind']>('truncated') },
        { weight: 1, arbitrary: fc.constant<Delivery['kind']>('stalled') },
        { weight: 1, arbitrary: fc.constant<Delivery['kind']>('aborted') },
      ),
      cutFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      stallMs: fc.integer({ min: 20, max: 150 }),
      stallThen: fc.constantFrom<'finish' | 'abort'>('finish', 'abort'),
    }),
  )
  .map(([mutation, rest]) => ({ ...mutation, ...rest }));

/** Cases built on `video` (a small real video, so some cases are whole, valid uploads). */
export function fuzzCaseArb(video: Buffer): fc.Arbitrary<FuzzCase> {
  return shapeArb.map((shape) => buildCase(shape, video));
}

function buildCase(shape: Shape, video: Buffer): FuzzCase {
  const boundary = `----fuzz${shape.randomBytes.length}x${shape.boundary}`;
  const bodyBoundary = shape.boundary === 'mismatched' ? `${boundary}-other` : boundary;
  const contentType = {
    normal: `multipart/form-data; boundary=${boundary}`,
    quoted: `multipart/form-data; boundary="${boundary}"`,
    missing: 'multipart/form-data',
    tooLong: `multipart/form-data; boundary=${'b'.repeat(200)}`,
    repeated: `multipart/form-data; boundary=${boundary}; boundary=${boundary}x`,
    mismatched: `multipart/form-data; boundary=${boundary}`,
    noClosing: `multipart/form-data; boundary=${boundary}`,
  }[shape.boundary];

  const disposition = (name: string | undefined, extra = '') =>
    `Content-Disposition: form-data${name === undefined ? '' : `; name="${name}"`}${extra}`;
  const headerLines = (name: string, extra = ''): string[] => {
    switch (shape.headerStyle) {
      case 'upper':
        return [
          disposition(name, extra).toUpperCase().replace(`"${name.toUpperCase()}"`, `"${name}"`),
        ];
      case 'folded':
        return [`Content-Disposition: form-data;\r\n name="${name}"${extra}`];
      case 'duplicated':
        return [disposition(name, extra), disposition(`${name}2`, extra)];
      case 'noName':
        return [disposition(undefined, extra)];
      case 'noDisposition':
        return ['Content-Type: text/plain'];
      case 'garbage':
        return [`Content-Disposition\u0000: ${name}`];
      default:
        return [disposition(name, extra)];
    }
  };
  // Part headers go out as UTF-8, as browsers send non-ASCII names; `latin1` sends each
  // character below U+0100 as one byte, for names that are not valid UTF-8.
  const part = (lines: string[], content: Buffer | string, encoding: BufferEncoding = 'utf8') =>
    Buffer.concat([
      Buffer.from(`--${bodyBoundary}\r\n${lines.join('\r\n')}\r\n\r\n`, encoding),
      typeof content === 'string' ? Buffer.from(content, 'utf8') : content,
      Buffer.from('\r\n', 'latin1'),
    ]);

  const operations = {
    valid: JSON.stringify({ query: QUERY, variables: { f: null } }),
    broken: '{"query": "mutation',
    huge: JSON.stringify({ query: QUERY, variables: { f: null }, pad: 'p'.repeat(1_100_000) }),
    array: JSON.stringify([{ query: QUERY, variables: { f: null } }]),
    notObject: '"just a string"',
    noVariable: JSON.stringify({ query: QUERY, variables: {} }),
    variableSet: JSON.stringify({ query: QUERY, variables: { f: 'not a file' } }),
  }[shape.operations];
  const map = {
    valid: JSON.stringify({ 0: ['variables.f'] }),
    broken: '{"0": [',
    proto: JSON.stringify({ 0: ['__proto__.polluted'] }),
    deep: JSON.stringify({ 0: ['variables.f.deeper'] }),
    query: JSON.stringify({ 0: ['query'] }),
    twice: JSON.stringify({ 0: ['variables.f', 'variables.f'] }),
    twoFiles: JSON.stringify({ 0: ['variables.f'], 1: ['variables.g'] }),
    empty: '{}',
    notObject: '[["variables.f"]]',
  }[shape.map];

  const filenameParam = (() => {
    const name = shape.filename;
    switch (shape.filenameStyle) {
      case 'quoted':
        return `; filename="${name}"`;
      case 'rfc5987':
        return `; filename*=UTF-8''${encodeURIComponent(name)}`;
      case 'both':
        return `; filename="fallback.mp4"; filename*=UTF-8''${encodeURIComponent(name)}`;
      case 'invalidUtf8':
        return `; filename="${name}\u00ff\u00fe.mp4"`;
      default:
        return '';
    }
  })();
  const fileContent =
    shape.content === 'video'
      ? video
      : shape.content === 'random'
        ? Buffer.from(shape.randomBytes)
        : Buffer.from('hello, not a video');
  const filePart = (name: string) =>
    part(
      [...headerLines(name, filenameParam), 'Content-Type: video/mp4'],
      fileContent,
      shape.filenameStyle === 'invalidUtf8' ? 'latin1' : 'utf8',
    );
  const opsPart = part(headerLines('operations'), operations);
  const mapPart = part(headerLines('map'), map);

  const parts = {
    spec: [opsPart, mapPart, filePart('0')],
    fileFirst: [filePart('0'), opsPart, mapPart],
    mapFirst: [mapPart, opsPart, filePart('0')],
    noFile: [opsPart, mapPart],
    noMap: [opsPart, filePart('0')],
    twoFiles: [opsPart, mapPart, filePart('0'), filePart('1')],
    extraField: [opsPart, mapPart, part(headerLines('extra'), 'x'), filePart('0')],
  }[shape.order];
  const closing = shape.boundary === 'noClosing' ? '' : `--${bodyBoundary}--\r\n`;
  const body = Buffer.concat([...parts, Buffer.from(closing, 'latin1')]);

  const at = Math.floor(shape.cutFraction * body.length);
  const delivery: Delivery =
    shape.deliveryKind === 'truncated'
      ? { kind: 'truncated', at }
      : shape.deliveryKind === 'stalled'
        ? { kind: 'stalled', at, ms: shape.stallMs, then: shape.stallThen }
        : shape.deliveryKind === 'aborted'
          ? { kind: 'aborted', at }
          : { kind: 'whole' };
  const label = [
    `boundary=${shape.boundary}`,
    `headers=${shape.headerStyle}`,
    `filename=${JSON.stringify(shape.filename.slice(0, 40))}${shape.filename.length > 40 ? `…(${shape.filename.length})` : ''}/${shape.filenameStyle}`,
    `operations=${shape.operations}`,
    `map=${shape.map}`,
    `order=${shape.order}`,
    `content=${shape.content}`,
    `delivery=${JSON.stringify(delivery)}`,
    shape.signedIn ? 'signed in' : 'anonymous',
  ].join(' ');
  return { label, contentType, body, delivery, signedIn: shape.signedIn };
}

/**
 * Sends one case on a raw socket, chunked, so a truncated body can still end properly and a
 * stalled one can go on. Resolves with the answer, or with no status when the connection
 * closed without one (as it must when the case dropped it).
 */
export function sendFuzzCase(
  url: string,
  fuzz: FuzzCase,
  headers: Record<string, string>,
): Promise<FuzzAnswer> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(target.port), target.hostname);
    const received: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(received)));
    };
    // Every case ends well before this; a hang is reported as no answer.
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, 30_000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', finish);
    socket.on('close', finish);
    const head = [
      `POST ${target.pathname} HTTP/1.1`,
      `Host: ${target.host}`,
      `Content-Type: ${fuzz.contentType}`,
      'Transfer-Encoding: chunked',
      'Connection: close',
      'Apollo-Require-Preflight: true',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ].join('\r\n');
    const chunk = (bytes: Buffer) =>
      bytes.length === 0
        ? Buffer.alloc(0)
        : Buffer.concat([
            Buffer.from(`${bytes.length.toString(16)}\r\n`),
            bytes,
            Buffer.from('\r\n'),
          ]);
    const end = Buffer.from('0\r\n\r\n');
    socket.write(`${head}\r\n\r\n`, 'latin1');
    const { delivery, body } = fuzz;
    switch (delivery.kind) {
      case 'whole':
        socket.write(Buffer.concat([chunk(body), end]));
        break;
      case 'truncated':
        socket.write(Buffer.concat([chunk(body.subarray(0, delivery.at)), end]));
        break;
      case 'aborted':
        socket.write(chunk(body.subarray(0, delivery.at)), () => socket.destroy());
        break;
      case 'stalled':
        socket.write(chunk(body.subarray(0, delivery.at)));
        setTimeout(() => {
          if (delivery.then === 'abort') socket.destroy();
          else if (!socket.destroyed)
            socket.write(Buffer.concat([chunk(body.subarray(delivery.at)), end]));
        }, delivery.ms);
        break;
    }
  });
}

function parseAnswer(raw: Buffer): FuzzAnswer {
  const headEnd = raw.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(raw.subarray(0, 16).toString('latin1'))?.[1];
  if (!status || headEnd < 0) return { body: raw.toString('utf8') };
  const head = raw.subarray(0, headEnd).toString('latin1').toLowerCase();
  const body = raw.subarray(headEnd + 4);
  return {
    status: Number(status),
    body: (/\r\ntransfer-encoding: chunked/.test(head) ? dechunk(body) : body).toString('utf8'),
  };
}

function dechunk(raw: Buffer): Buffer {
  const pieces: Buffer[] = [];
  let rest = raw;
  for (;;) {
    const line = rest.indexOf('\r\n');
    const size = line < 0 ? 0 : parseInt(rest.subarray(0, line).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(pieces);
    pieces.push(rest.subarray(line + 2, line + 2 + size));
    rest = rest.subarray(line + 2 + size + 2);
  }
}
