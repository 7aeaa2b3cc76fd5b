import { createECDH, randomBytes, randomUUID, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decrypt } from 'http_ece';
import { importJWK, jwtVerify } from 'jose';
import type { PushSubscriptionKeys } from '../../subgraphs/notification/push/sendPush.js';

export interface PushEndpoint {
  /** Where pushes to subscription `id` go: `http://127.0.0.1:<port>/push/<id>`. */
  url(id: string): string;
  /** The subscription a browser would hand out for `id`; its keys are made on first use. */
  subscriptionFor(id: string): PushSubscriptionKeys;
  /**
   * The next push to `id` not yet taken, decrypted. Rejects with the reason when the endpoint
   * refused one (missing or invalid VAPID, a body that does not decrypt).
   */
  received(id: string): Promise<string>;
  /** Every later push to `id` is answered `status` unread (410: the subscription is gone). */
  answerWith(id: string, status: number): void;
  close(): Promise<void>;
}

/** RFC 8030 §7.2: a push service need not take a larger message. */
const MAX_BODY_BYTES = 4096;
/** RFC 8292 §2: a push service refuses a token that lives longer than a day. */
const MAX_TOKEN_SECONDS = 24 * 60 * 60;

type Arrival = { ok: true; text: string } | { ok: false; reason: string };

/** One subscription: the browser's side of it (its keys) and what has arrived for it. */
interface Subscriber {
  ecdh: ECDH;
  authSecret: Buffer;
  answer: number | null;
  arrivals: Arrival[];
  waiting: ((arrival: Arrival) => void)[];
}

/** A refusal: its status goes back to the sender, its reason to `received()`. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

function newSubscriber(): Subscriber {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, authSecret: randomBytes(16), answer: null, arrivals: [], waiting: [] };
}

function deliver(subscriber: Subscriber, arrival: Arrival): void {
  const waiter = subscriber.waiting.shift();
  if (waiter) waiter(arrival);
  else subscriber.arrivals.push(arrival);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Refusal(413, `more than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Checks `Authorization: vapid t=<JWT>, k=<public key>` as a push service does (RFC 8292): an
 * ES256 signature by `k`, `aud` this endpoint's origin, `exp` within a day, a contact `sub`.
 */
async function verifyVapid(header: string | undefined, origin: string): Promise<void> {
  if (!header) throw new Refusal(401, 'no VAPID Authorization header');
  const match = /^vapid t=([\w.-]+),\s*k=([\w-]+)$/.exec(header);
  const point = Buffer.from(match?.[2] ?? '', 'base64url');
  if (!match?.[1] || point.length !== 65 || point[0] !== 0x04) {
    throw new Refusal(403, `not a VAPID Authorization header: ${header}`);
  }
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33).toString('base64url');
  try {
    const key = await importJWK({ kty: 'EC', crv: 'P-256', x, y }, 'ES256');
    const { payload } = await jwtVerify(match[1], key, {
      algorithms: ['ES256'],
      audience: origin,
      requiredClaims: ['exp', 'sub'],
    });
    if ((payload.exp ?? 0) > Date.now() / 1000 + MAX_TOKEN_SECONDS) {
      throw new Error('exp more than a day ahead');
    }
    if (!/^(mailto|https):/.test(payload.sub ?? '')) throw new Error('sub is no contact URL');
  } catch (error) {
    throw new Refusal(403, `VAPID token refused: ${(error as Error).message}`);
  }
}

/** Takes one push: headers and VAPID first, then the body, decrypted as the browser would. */
async function accept(request: IncomingMessage, subscriber: Subscriber, origin: string) {
  if (request.headers.ttl === undefined) throw new Refusal(400, 'no TTL header');
  if (request.headers['content-encoding'] !== 'aes128gcm') {
    throw new Refusal(415, `Content-Encoding ${request.headers['content-encoding']}`);
  }
  await verifyVapid(request.headers.authorization, origin);
  const body = await readBody(request);
  try {
    const plain = decrypt(body, {
      version: 'aes128gcm',
      privateKey: subscriber.ecdh,
      authSecret: subscriber.authSecret,
    });
    return plain.toString('utf8');
  } catch (error) {
    throw new Refusal(400, `the body does not decrypt: ${(error as Error).message}`);
  }
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  subscribers: Map<string, Subscriber>,
  origin: string,
): Promise<void> {
  const id = /^\/push\/([^/?]+)$/.exec(request.url ?? '')?.[1];
  const subscriber = id === undefined ? undefined : subscribers.get(decodeURIComponent(id));
  if (request.method !== 'POST' || !subscriber || subscriber.answer !== null) {
    request.resume();
    response.writeHead(subscriber?.answer ?? 404).end();
    return;
  }
  try {
    deliver(subscriber, { ok: true, text: await accept(request, subscriber, origin) });
    response.writeHead(201, { location: `/message/${randomUUID()}` }).end();
  } catch (error) {
    const refusal = error instanceof Refusal ? error : new Refusal(500, String(error));
    deliver(subscriber, { ok: false, reason: refusal.message });
    request.resume();
    response.writeHead(refusal.status, { 'content-type': 'text/plain' }).end(refusal.message);
  }
}

/**
 * A push service and the browsers behind it, on 127.0.0.1 (RFC 8030): each subscription id
 * has a real P-256 key pair and auth secret, a push to it must carry a valid VAPID token, and
 * its aes128gcm body is decrypted with http_ece, an implementation apart from web-push's.
 */
export async function startPushEndpoint(): Promise<PushEndpoint> {
  const subscribers = new Map<string, Subscriber>();
  let origin = '';
  const server = createServer((request, response) => {
    void handle(request, response, subscribers, origin);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const subscriber = (id: string) => {
    const known = subscribers.get(id) ?? newSubscriber();
    subscribers.set(id, known);
    return known;
  };
  const url = (id: string) => `${origin}/push/${encodeURIComponent(id)}`;
  return {
    url,
    subscriptionFor: (id) => {
      const { ecdh, authSecret } = subscriber(id);
      return {
        endpoint: url(id),
        keys: {
          p256dh: ecdh.getPublicKey().toString('base64url'),
          auth: authSecret.toString('base64url'),
        },
      };
    },
    received: (id) => {
      const known = subscriber(id);
      const next = known.arrivals.shift();
      const arrival = next
        ? Promise.resolve(next)
        : new Promise<Arrival>((resolve) => known.waiting.push(resolve));
      return arrival.then((got) => (got.ok ? got.text : Promise.reject(new Error(got.reason))));
    },
    answerWith: (id, status) => {
      subscriber(id).answer = status;
    },
    close: () => {
      for (const known of subscribers.values()) {
        for (const waiter of known.waiting.splice(0)) {
          waiter({ ok: false, reason: 'the push endpoint closed' });
        }
      }
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
