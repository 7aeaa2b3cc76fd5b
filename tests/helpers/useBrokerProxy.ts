import { afterAll, beforeAll, inject } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcpProxy.js';

/** A relay in front of the shared RabbitMQ, which a test cuts and restores. */
export interface BrokerProxy {
  readonly proxy: TcpProxy;
  /** The shared RabbitMQ's URL, through the relay. */
  readonly amqpUrl: string;
}

/**
 * Starts a relay to the shared RabbitMQ before the calling describe block's tests and closes
 * it after them. Call it before useStack, so that the stack starts on it and stops before it
 * closes.
 */
export function useBrokerProxy(): BrokerProxy {
  const infra = inject('infra');
  let relay: { proxy: TcpProxy; amqpUrl: string } | undefined;
  beforeAll(async () => {
    const target = new URL(infra.amqpUrl);
    const proxy = await startTcpProxy(Number(target.port || 5672));
    target.port = String(proxy.port);
    relay = { proxy, amqpUrl: target.toString() };
  });
  afterAll(async () => {
    await relay?.proxy.close();
  });
  const running = () => {
    if (!relay) throw new Error('the broker relay is not running: read it in a test or hook');
    return relay;
  };
  return {
    get proxy() {
      return running().proxy;
    },
    get amqpUrl() {
      return running().amqpUrl;
    },
  };
}
