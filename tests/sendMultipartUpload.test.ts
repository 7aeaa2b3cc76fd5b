import { randomBytes } from 'node:crypto';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GraphQLError } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInternalHop, HOP_HEADER, type HopSigner } from '../lib/server/createInternalHop.js';
import { ForwardingDataSource } from '../router/ForwardingDataSource.js';
import { GraphQLDataSourceRequestKind } from '../router/gatewayInternals.js';
import type { RouterContext } from '../router/RouterContext.js';
import { sendMultipartUpload } from '../router/sendMultipartUpload.js';
import { createFakeClientUpload } from './helpers/fakes/createFakeClientUpload.js';
import { startFakeMedia, type FakeMediaOptions } from './helpers/fakes/startFakeMedia.js';

/*
 * The router's upload passthrough in process: a client's file (a fake Upload whose stream the
 * test drives) streamed to a fake media subgraph on 127.0.0.1 that records what arrives and
 * checks the router's signature with the same secret.
 */

// A step that never comes fails in seconds, not at the tier's minute.
vi.setConfig({ testTimeout: 10_000 });

const secret = randomBytes(32);
const hop = createInternalHop(secret);
const sign: HopSigner = (request) => ({ [HOP_HEADER]: hop.sign(request) });
const MAX_FILE_BYTES = 1_000_000;
const UPLOAD = /* GraphQL */ `
  mutation Upload($file: Upload!) {
    uploadVideo(file: $file) {
      id
    }
  }
`;
const CLIENT_HEADERS = {
  'x-forwarded-for': '203.0.113.7',
  authorization: 'Bearer a.b.c',
};

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function media(options: Omit<FakeMediaOptions, 'secret'> = {}) {
  const started = await startFakeMedia({ secret, ...options });
  closers.push(() => started.close());
  return started;
}

function send(url: string, uploads = [createFakeClientUpload()]) {
  return sendMultipartUpload({
    url,
    headers: CLIENT_HEADERS,
    sign,
    operation: { query: UPLOAD, operationName: 'Upload', variables: { file: null } },
    uploads: uploads.map(({ upload }) => ['file', upload]),
    maxFileBytes: MAX_FILE_BYTES,
  });
}

const jsonAnswer =
  (status: number, body: unknown): NonNullable<FakeMediaOptions['answer']> =>
  (_, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

const codeOf = (error: unknown) => (error as GraphQLError).extensions.code;

describe('sendMultipartUpload: the file streamed to media', () => {
  it('sends each part of the file on as it arrives, in a GraphQL multipart request', async () => {
    const subgraph = await media();
    const client = createFakeClientUpload('holiday.mp4', 'video/mp4');
    const answered = send(subgraph.url, [client]);
    client.file.write('first half;');
    // Media holds the first bytes while the client is still sending the rest.
    await vi.waitFor(() => expect(String(subgraph.received[0]?.body)).toContain('first half;'));
    expect(subgraph.received[0]?.ended).toBe(false);
    client.file.end('second half');
    expect(await answered).toEqual({ data: { uploadVideo: { id: 'v1' } } });

    const [received] = subgraph.received;
    const body = String(received?.body);
    const boundary = /boundary=(\S+)$/.exec(String(received?.headers['content-type']))?.[1];
    expect(body).toContain(
      `name="operations"\r\n\r\n${JSON.stringify({ query: UPLOAD, operationName: 'Upload', variables: { file: null } })}`,
    );
    expect(body).toContain(`name="map"\r\n\r\n{"0":["variables.file"]}`);
    expect(body).toContain('Content-Type: video/mp4\r\n\r\nfirst half;second half');
    expect(body.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
    expect(body).toContain('name="0"; filename="holiday.mp4"');
    expect(received?.headers['apollo-require-preflight']).toBe('true');
  });

  it('sends no Content-Length (the size is not known before the end) but chunks, and passes on the client request size, signed', async () => {
    const subgraph = await media();
    const withSize = createFakeClientUpload();
    const source = new ForwardingDataSource({
      url: subgraph.url,
      fetcher: () => Promise.reject(new Error('an upload goes around the fetcher')),
      maxFileBytes: MAX_FILE_BYTES,
      sign,
    });
    const context: RouterContext = {
      authorization: CLIENT_HEADERS.authorization,
      userId: 'u1',
      clientAddress: CLIENT_HEADERS['x-forwarded-for'],
      requestBytes: 12_345,
    };
    withSize.file.end('bytes');
    await source.process({
      kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
      request: { query: UPLOAD, variables: { file: withSize.upload } },
      context,
    } as unknown as GraphQLDataSourceProcessOptions<RouterContext>);
    const [received] = subgraph.received;
    expect(received?.headers['content-length']).toBeUndefined();
    expect(received?.headers['transfer-encoding']).toBe('chunked');
    expect(received?.headers['x-client-request-bytes']).toBe('12345');
    expect(received?.signed).toBe(true);
    // The size is signed: a larger or a missing one does not verify.
    const headers = { ...received!.headers };
    expect(
      subgraph.verify({ ...received!, headers: { ...headers, 'x-client-request-bytes': '1' } }),
    ).toBe(false);
    delete headers['x-client-request-bytes'];
    expect(subgraph.verify({ ...received!, headers })).toBe(false);
  });
});

describe('sendMultipartUpload: the signed hop', () => {
  it('signs the request for itself alone: another token, address or path does not verify', async () => {
    const subgraph = await media();
    const client = createFakeClientUpload();
    client.file.end('bytes');
    await send(subgraph.url, [client]);
    const [received] = subgraph.received;
    expect(received?.signed).toBe(true);
    expect(received?.headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(received?.headers.authorization).toBe('Bearer a.b.c');
    const edited = (changes: Partial<Record<string, string>>) =>
      subgraph.verify({ ...received!, headers: { ...received!.headers, ...changes } });
    expect(edited({})).toBe(true);
    expect(edited({ authorization: 'Bearer x.y.z' })).toBe(false);
    expect(edited({ 'x-forwarded-for': '198.51.100.1' })).toBe(false);
    expect(edited({ 'content-type': 'multipart/form-data; boundary=other' })).toBe(false);
    expect(subgraph.verify({ ...received!, url: '/files/videos/1' })).toBe(false);
  });
});

describe("sendMultipartUpload: media's answers", () => {
  it.each([
    [200, 'UNSUPPORTED_MEDIA'],
    [400, 'BAD_USER_INPUT'],
    [413, 'QUOTA_EXCEEDED'],
  ])("relays a %i answer's error code as media gave it (%s)", async (status, code) => {
    const body = { errors: [{ message: 'refused', extensions: { code } }] };
    const subgraph = await media({ answer: jsonAnswer(status, body) });
    const client = createFakeClientUpload();
    client.file.end('bytes');
    expect(await send(subgraph.url, [client])).toEqual(body);
  });

  it('stops sending the file when media answers before it ended, and relays that answer', async () => {
    const refusal = {
      errors: [{ message: 'too large', extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
    };
    const subgraph = await media({ answerAfterBytes: 1, answer: jsonAnswer(413, refusal) });
    const client = createFakeClientUpload();
    const answered = send(subgraph.url, [client]);
    client.file.write('x'.repeat(1000));
    expect(await answered).toEqual(refusal);
    client.file.write('never sent');
    await vi.waitFor(() => expect(subgraph.received[0]?.cutOff).toBe(true));
    expect(String(subgraph.received[0]?.body)).not.toContain('never sent');
  });

  it.each([
    [408, 'BAD_REQUEST'],
    [502, 'INTERNAL_SERVER_ERROR'],
  ])('turns a %i answer that is not GraphQL into %s', async (status, code) => {
    const subgraph = await media({
      answer: (_, res) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end('not json');
      },
    });
    const client = createFakeClientUpload();
    client.file.end('bytes');
    expect(codeOf(await send(subgraph.url, [client]).catch((error: unknown) => error))).toBe(code);
  });

  it('answers SERVICE_UNAVAILABLE when media goes away mid-stream', async () => {
    const subgraph = await media({ dropAfterBytes: 1 });
    const client = createFakeClientUpload();
    const answered = send(subgraph.url, [client]).catch((error: unknown) => error);
    client.file.write('x'.repeat(1000));
    expect(codeOf(await answered)).toBe('SERVICE_UNAVAILABLE');
  });
});

describe('sendMultipartUpload: a file that does not arrive whole', () => {
  it("cuts media's request off when the client's body is truncated, and answers BAD_REQUEST", async () => {
    const subgraph = await media();
    const client = createFakeClientUpload();
    const answered = send(subgraph.url, [client]).catch((error: unknown) => error);
    client.file.write('the first part');
    await vi.waitFor(() => expect(String(subgraph.received[0]?.body)).toContain('the first part'));
    client.file.destroy(new Error('Unexpected end of form'));
    const error = await answered;
    expect(codeOf(error)).toBe('BAD_REQUEST');
    expect((error as Error).message).toMatch(/interrupted before the file ended/);
    await vi.waitFor(() => expect(subgraph.received[0]?.cutOff).toBe(true));
    expect(subgraph.received[0]?.ended).toBe(false);
  });

  it("cuts media's request off when the file passes the limit, and answers PAYLOAD_TOO_LARGE", async () => {
    const subgraph = await media();
    const client = createFakeClientUpload();
    const answered = send(subgraph.url, [client]).catch((error: unknown) => error);
    client.file.write('up to the limit');
    await vi.waitFor(() => expect(subgraph.received[0]?.body.length).toBeGreaterThan(0));
    client.file.emit('limit');
    const error = await answered;
    expect(codeOf(error)).toBe('PAYLOAD_TOO_LARGE');
    expect((error as GraphQLError).extensions.http).toEqual({ status: 413 });
    await vi.waitFor(() => expect(subgraph.received[0]?.cutOff).toBe(true));
  });

  it('refuses two files in one request with BAD_USER_INPUT, sending nothing', async () => {
    const subgraph = await media();
    const error = await send(subgraph.url, [
      createFakeClientUpload(),
      createFakeClientUpload(),
    ]).catch((e: unknown) => e);
    expect(codeOf(error)).toBe('BAD_USER_INPUT');
    expect(subgraph.received).toEqual([]);
  });
});
