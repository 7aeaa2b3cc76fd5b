import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Watched<T> {
  /** Every `next` payload, in order. */
  results: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] }[];
  /** Resolves on `complete`; rejects with the `error` payload or the close event. */
  finished: Promise<void>;
  client: Client;
  /** Closes the socket without completing (a client that vanishes). */
  drop: () => void;
}

/** A graphql-ws client (the real library, over the `ws` package) subscribed to one operation. */
export function watch<T>(
  graphqlUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Watched<T> {
  let socket: WebSocket | undefined;
  const client = createClient({
    url: graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { connected: (s) => (socket = s as WebSocket) },
  });
  const results: Watched<T>['results'] = [];
  const finished = new Promise<void>((resolve, reject) => {
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => results.push(value as Watched<T>['results'][number]),
        error: reject,
        complete: resolve,
      },
    );
  });
  return { results, finished, client, drop: () => socket?.terminate() };
}

/** Opens a raw socket, sends `connection_init` with `payload`, and resolves with the close code. */
export function closeCodeFor(graphqlUrl: string, payload: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'connection_ack') reject(new Error('connection acknowledged'));
    });
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}

/** How one subscription on a RawSocket ended. */
export type SubscriptionEnd =
  | { kind: 'complete' }
  | { kind: 'error'; errors: { message: string; extensions?: Record<string, unknown> }[] }
  | { kind: 'closed'; code: number };

export interface RawSubscription {
  /** Every `next` payload, in order. */
  results: { data?: Record<string, unknown> | null; errors?: unknown[] }[];
  /** Undefined while the subscription is open. */
  end: SubscriptionEnd | undefined;
  ended: Promise<SubscriptionEnd>;
}

export interface RawSocket {
  /** `ack` once the router acknowledged `connection_init`, or the code it closed with first. */
  opened: Promise<'ack' | number>;
  /** The close code, once the socket is closed by either side. */
  closed: Promise<number>;
  subscribe(query: string, variables?: Record<string, unknown>): RawSubscription;
  close(): void;
}

/**
 * A graphql-transport-ws socket spoken by hand, for tests that open thousands of subscriptions
 * (the library's client costs far more per subscription) or name their client address
 * (`X-Forwarded-For` on the upgrade request, as a load balancer in front would set it).
 */
export function openSocket(
  graphqlUrl: string,
  token: string,
  options: { address?: string } = {},
): RawSocket {
  const socket = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws', {
    headers: options.address ? { 'x-forwarded-for': options.address } : {},
  });
  const subscriptions = new Map<
    string,
    RawSubscription & { finish: (end: SubscriptionEnd) => void }
  >();
  let nextId = 0;
  let acknowledged: (value: 'ack' | number) => void = () => undefined;
  const opened = new Promise<'ack' | number>((resolve) => (acknowledged = resolve));
  const closed = new Promise<number>((resolve) => {
    socket.on('close', (code) => {
      acknowledged(code);
      for (const subscription of subscriptions.values())
        subscription.finish({ kind: 'closed', code });
      resolve(code);
    });
  });
  socket.on('error', () => undefined);
  socket.on('open', () =>
    socket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }),
    ),
  );
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: unknown };
    if (message.type === 'connection_ack') acknowledged('ack');
    if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
    const subscription = message.id === undefined ? undefined : subscriptions.get(message.id);
    if (!subscription) return;
    if (message.type === 'next') {
      subscription.results.push(message.payload as RawSubscription['results'][number]);
    } else if (message.type === 'error') {
      subscription.finish({
        kind: 'error',
        errors: message.payload as Extract<SubscriptionEnd, { kind: 'error' }>['errors'],
      });
    } else if (message.type === 'complete') {
      subscription.finish({ kind: 'complete' });
    }
  });
  return {
    opened,
    closed,
    subscribe(query, variables = {}) {
      const id = String(++nextId);
      let settle: (end: SubscriptionEnd) => void = () => undefined;
      const subscription = {
        results: [],
        end: undefined as SubscriptionEnd | undefined,
        ended: new Promise<SubscriptionEnd>((resolve) => (settle = resolve)),
        finish(end: SubscriptionEnd) {
          if (subscription.end) return;
          subscription.end = end;
          subscriptions.delete(id);
          settle(end);
        },
      };
      subscriptions.set(id, subscription);
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
      return subscription;
    },
    close: () => socket.close(1000),
  };
}
