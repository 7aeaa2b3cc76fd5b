import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { isPublicAddress, type WebhookUrlPolicy } from './checkWebhookUrl.js';

const USER_AGENT = 'REELFLUX-Webhooks/1';
/** Enough of an answer to tell a receiver's error page from another; the rest is not read. */
const RESPONSE_HEAD_BYTES = 1024;

/** How one delivery went, for the delivery log and the retry decision. */
export interface WebhookAttempt {
  /** The receiver's HTTP status; null if it never answered. */
  statusCode: number | null;
  /** From the start of the attempt (name resolution included) to its outcome. */
  durationMs: number;
  /** The first 1024 bytes at most of the answer's body, as UTF-8; '' if none was read. */
  responseHead: string;
  /**
   * What went wrong, when the status alone does not say it: `timeout`, `refused`, `reset`,
   * `unreachable`, `private address 10.0.0.1`, `redirect not followed (302)`,
   * `scheme not allowed (ftp:)`, `dns: ENOTFOUND`, `tls: CERT_HAS_EXPIRED`, or the error's
   * code. Null when the receiver answered with a status that is not a redirect.
   */
  error: string | null;
  /** The receiver answered 2xx within the time allowed. */
  ok: boolean;
}

interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface SendWebhookOptions {
  /** The endpoint, as checkWebhookUrl accepted it. */
  url: URL;
  /** The signed headers (signWebhook); `user-agent` and `content-length` are set here. */
  headers: Record<string, string>;
  body: string;
  /** For the whole attempt: resolving the name, connecting, and the answer's status and head. */
  timeoutMs: number;
  policy: WebhookUrlPolicy;
  /**
   * Resolves the URL's host name to the addresses to check and connect to.
   * @default dns.promises.lookup(hostname, { all: true })
   */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

/**
 * POSTs one webhook and tells how it went; never throws for what the network or the receiver
 * does. The host name is resolved once, and unless the policy allows private networks the
 * attempt is refused without connecting if any of its addresses is not public. The connection
 * then goes to exactly the address that was checked, so a second DNS answer cannot rebind
 * the name to an internal host between the check and the connection; the URL's host name is
 * still sent as Host and TLS server name. Redirects are not followed (they could lead
 * anywhere, unchecked): a 3xx is a failed attempt.
 */
export async function sendWebhook(options: SendWebhookOptions): Promise<WebhookAttempt> {
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
  try {
    const outcome = await attempt(options, deadline.signal);
    const { statusCode, error } = outcome;
    const ok = error === null && statusCode !== null && statusCode >= 200 && statusCode < 300;
    return { ...outcome, durationMs: Math.round(performance.now() - started), ok };
  } finally {
    clearTimeout(timer);
  }
}

type Outcome = Pick<WebhookAttempt, 'statusCode' | 'responseHead' | 'error'>;

const failed = (error: string): Outcome => ({ statusCode: null, responseHead: '', error });

async function attempt(options: SendWebhookOptions, deadline: AbortSignal): Promise<Outcome> {
  const { url, policy } = options;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return failed(`scheme not allowed (${url.protocol})`);
  }
  const resolved = await beforeDeadline(resolveHost(hostOf(url), options.resolve), deadline);
  if (resolved === TIMED_OUT) return failed('timeout');
  if ('error' in resolved) return failed(resolved.error);
  const target = chooseAddress(resolved.addresses, policy);
  if ('error' in target) return failed(target.error);
  return post(options, target, deadline);
}

/** The URL's host as an address or name: an IPv6 host without its brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** What `resolve` is by default: the system resolver, as Node's own connections use it. */
async function lookupAll(hostname: string): Promise<ResolvedAddress[]> {
  const addresses = await lookup(hostname, { all: true });
  return addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
}

async function resolveHost(
  host: string,
  resolve: SendWebhookOptions['resolve'] = lookupAll,
): Promise<{ addresses: ResolvedAddress[] } | { error: string }> {
  const family = isIP(host);
  if (family === 4 || family === 6) return { addresses: [{ address: host, family }] };
  try {
    return { addresses: await resolve(host) };
  } catch (error) {
    return { error: `dns: ${errorCode(error)}` };
  }
}

/**
 * The address to connect to: the first, once every address the name has is known to be
 * allowed. All are checked, not just the first, because a name with one internal address is
 * an internal name whichever address the resolver happens to put first.
 */
function chooseAddress(
  addresses: readonly ResolvedAddress[],
  policy: WebhookUrlPolicy,
): ResolvedAddress | { error: string } {
  const [first] = addresses;
  if (!first) return { error: 'dns: no address' };
  if (!policy.allowPrivateNetworks) {
    const internal = addresses.find(({ address }) => !isPublicAddress(address));
    if (internal) return { error: `private address ${internal.address}` };
  }
  return first;
}

const TIMED_OUT = Symbol('timed out');

function beforeDeadline<T>(work: Promise<T>, deadline: AbortSignal): Promise<T | typeof TIMED_OUT> {
  if (deadline.aborted) return Promise.resolve(TIMED_OUT);
  const expired = new Promise<typeof TIMED_OUT>((resolve) =>
    deadline.addEventListener('abort', () => resolve(TIMED_OUT), { once: true }),
  );
  return Promise.race([work, expired]);
}

function post(
  options: SendWebhookOptions,
  target: ResolvedAddress,
  deadline: AbortSignal,
): Promise<Outcome> {
  if (deadline.aborted) return Promise.resolve(failed('timeout'));
  return new Promise((resolve) => {
    const answer: Outcome = { statusCode: null, responseHead: '', error: null };
    const send = options.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(requestOptions(options, target));
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      deadline.removeEventListener('abort', onDeadline);
      request.destroy();
      resolve({ ...answer, error });
    };
    const onDeadline = () => finish('timeout');
    deadline.addEventListener('abort', onDeadline, { once: true });
    request.on('error', (error) => finish(describeRequestError(error)));
    request.on('response', (response) => {
      answer.statusCode = response.statusCode ?? null;
      readHead(response, answer, () => finish(redirectError(answer.statusCode)));
    });
    request.end(options.body);
  });
}

function requestOptions(options: SendWebhookOptions, target: ResolvedAddress): RequestOptions {
  const { url } = options;
  const host = hostOf(url);
  return {
    method: 'POST',
    protocol: url.protocol,
    hostname: host,
    ...(url.port === '' ? {} : { port: Number(url.port) }),
    path: `${url.pathname}${url.search}`,
    headers: {
      ...options.headers,
      'user-agent': USER_AGENT,
      'content-length': String(Buffer.byteLength(options.body)),
    },
    // A fresh connection per attempt: a pooled one could outlive the check of its address.
    agent: false,
    lookup: pinnedLookup(target),
    // SNI carries names only; for an IP host there is none to send.
    ...(url.protocol === 'https:' && isIP(host) === 0 ? { servername: host } : {}),
  };
}

/**
 * A `lookup` that answers the checked address whatever it is asked, so the connection cannot
 * go anywhere else. Node asks for every address (`all`) when it may try several families.
 */
function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [target]);
    else callback(null, target.address, target.family);
  };
}

/**
 * Reads at most RESPONSE_HEAD_BYTES of the body into `answer.responseHead`, then stops the
 * response and calls `done`. A character cut at the limit is left out rather than mangled.
 */
function readHead(response: IncomingMessage, answer: Outcome, done: () => void): void {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  let finished = false;
  const stop = () => {
    if (finished) return;
    finished = true;
    response.destroy();
    done();
  };
  response.on('data', (chunk: Buffer) => {
    const part = chunk.subarray(0, RESPONSE_HEAD_BYTES - bytes);
    bytes += part.length;
    answer.responseHead += decoder.write(part);
    if (bytes >= RESPONSE_HEAD_BYTES) stop();
  });
  response.once('end', stop);
  response.once('error', stop);
  response.once('close', stop);
}

function redirectError(statusCode: number | null): string | null {
  return statusCode !== null && statusCode >= 300 && statusCode < 400
    ? `redirect not followed (${statusCode})`
    : null;
}

const REQUEST_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  // The system's own connect timeout, should it come before the deadline.
  ETIMEDOUT: 'timeout',
};

function describeRequestError(error: unknown): string {
  const code = errorCode(error);
  if (REQUEST_ERRORS[code]) return REQUEST_ERRORS[code];
  return /CERT|^ERR_TLS|^ERR_SSL/.test(code) ? `tls: ${code}` : code;
}

function errorCode(error: unknown): string {
  if (error instanceof Error) {
    const { code } = error as NodeJS.ErrnoException;
    return code ?? error.message;
  }
  return String(error);
}
