import { ObjectId } from 'mongodb';
import type { Logger } from '../../lib/platform/logger.js';
import type { WebhookSettings } from './config.js';
import type {
  AttemptRecord,
  Channel,
  DeliveryRecord,
  DeliveryStore,
} from './createDeliveryStore.js';
import { planRetry } from './planRetry.js';

/**
 * What one attempt on one channel came to: `delivered`; `failed`, worth another try on the
 * schedule; `dropped`, not worth one (the target went, turned off, or said it is gone).
 */
export interface ChannelOutcome {
  attempt: AttemptRecord;
  result: 'delivered' | 'failed' | 'dropped';
}

/** Makes one attempt of a delivery on its channel; never rejects for the target's failures. */
export type ChannelSender = (delivery: DeliveryRecord) => Promise<ChannelOutcome>;

/** Sends due deliveries, a bounded number at once, and records every attempt. */
export interface DeliveryDispatcher {
  /** Looks for due deliveries now (new ones were just made). */
  wake(this: void): void;
  /** Looks every second as well, for retries coming due. */
  start(): void;
  /** Takes no more, and waits for the attempts under way (each within its time limit). */
  stop(): Promise<void>;
}

/** How long past its time limit an attempt counts as lost, its process presumed dead. */
const LEASE_SLACK_MS = 30_000;

/**
 * Claims due deliveries from the store, so that any number of replicas share them and a
 * delivery whose process died is due again once its lease runs out (sent again then, under the
 * same id). At most `concurrency` attempts at once here, and `concurrencyPerEndpoint` to one
 * target (a webhook endpoint, an address, a browser): a slow or dead target holds its own
 * places, never another user's. Failed attempts are retried on `retryScheduleMs`.
 */
export function createDeliveryDispatcher(deps: {
  deliveries: DeliveryStore;
  senders: Record<Channel, ChannelSender>;
  settings: Pick<
    WebhookSettings,
    'concurrency' | 'concurrencyPerEndpoint' | 'timeoutMs' | 'retryScheduleMs'
  >;
  log: Logger;
  /** Told of each attempt's outcome, for metrics. */
  onAttempt?: (channel: Channel, outcome: string, durationMs: number) => void;
}): DeliveryDispatcher {
  const { deliveries, settings, log } = deps;
  const perTarget = new Map<string, number>();
  const underWay = new Set<Promise<void>>();
  let pumping = false;
  let again = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const busyTargets = () =>
    [...perTarget]
      .filter(([, n]) => n >= settings.concurrencyPerEndpoint)
      .map(([id]) => new ObjectId(id));

  const pump = async () => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        while (!stopped && underWay.size < settings.concurrency) {
          const now = new Date();
          const lease = new Date(now.getTime() + settings.timeoutMs + LEASE_SLACK_MS);
          const delivery = await deliveries.claimDue(now, lease, busyTargets());
          if (!delivery) break;
          begin(delivery);
        }
      } while (again && !stopped);
    } catch (error) {
      log.warn({ err: error }, 'deliveries could not be claimed; trying again soon');
    } finally {
      pumping = false;
    }
  };

  const begin = (delivery: DeliveryRecord) => {
    const key = delivery.targetId.toHexString();
    perTarget.set(key, (perTarget.get(key) ?? 0) + 1);
    const attempt: Promise<void> = deliver(delivery)
      .catch((error: unknown) =>
        log.warn(
          { err: error, deliveryId: delivery._id.toHexString() },
          'delivery attempt not recorded',
        ),
      )
      .finally(() => {
        const left = (perTarget.get(key) ?? 1) - 1;
        if (left > 0) perTarget.set(key, left);
        else perTarget.delete(key);
        underWay.delete(attempt);
        void pump();
      });
    underWay.add(attempt);
  };

  const deliver = async (delivery: DeliveryRecord) => {
    const { attempt, result } = await deps.senders[delivery.channel](delivery);
    let outcome: Parameters<DeliveryStore['recordAttempt']>[2];
    let kind: string = result;
    if (result === 'delivered') outcome = { final: 'DELIVERED' };
    else if (result === 'dropped') outcome = { final: 'DROPPED' };
    else {
      const next = planRetry(delivery.round, settings.retryScheduleMs, new Date());
      outcome = next ? { next, round: delivery.round + 1 } : { final: 'FAILED' };
      kind = next ? 'retry' : 'failed';
    }
    await deliveries.recordAttempt(delivery._id, attempt, outcome);
    deps.onAttempt?.(delivery.channel, kind, attempt.durationMs);
  };

  return {
    wake: () => void pump(),
    start() {
      timer = setInterval(() => void pump(), 1000);
      timer.unref();
      void pump();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...underWay]);
    },
  };
}

/** An attempt that was not made, and why. */
export function skippedAttempt(why: string): AttemptRecord {
  return { at: new Date(), statusCode: null, durationMs: 0, error: why, responseHead: '' };
}
