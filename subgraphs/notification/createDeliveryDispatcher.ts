import { ObjectId } from 'mongodb';
import type { Logger } from '../../lib/platform/logger.js';
import type { WebhookSettings } from './config.js';
import type {
  AttemptRecord,
  Channel,
  DeliveryRecord,
  DeliveryStore,
  DueDelivery,
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
  /** A delivery just made or replayed: sent as soon as a place is free. */
  schedule(this: void, delivery: DueDelivery): void;
  /**
   * Sends what is due every 100 ms, and reads the store every `rescanMs` for what it does not
   * know of: deliveries made by another replica's intake, or left by a process that died.
   */
  start(): void;
  /** Takes no more, and waits for the attempts under way (each within its time limit). */
  stop(): Promise<void>;
}

/** How long past its time limit an attempt counts as lost, its process presumed dead. */
const LEASE_SLACK_MS = 30_000;
/** How often the store is read for due deliveries this process was not told of. */
const RESCAN_MS = 5_000;
/** How many of those one read takes. */
const RESCAN_LIMIT = 2_000;

/**
 * Claims due deliveries from the store one by one, by id, so that any number of replicas share
 * them and a delivery whose process died is due again once its lease runs out (sent again then,
 * under the same id). What is due is planned here, from the deliveries this process made or
 * retried and from a read of the store every few seconds: a claim by id stays cheap however
 * many deliveries wait, where asking the store for "the one due longest" sorts them all (on
 * FerretDB, in the proxy, on every claim). At most `concurrency` attempts at once here, and `concurrencyPerEndpoint` to one
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
  const plan = createDuePlan(deliveries);
  let pumping = false;
  let again = false;
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];

  const full = (target: ObjectId) =>
    (perTarget.get(target.toHexString()) ?? 0) >= settings.concurrencyPerEndpoint;

  const pump = async () => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        for (const due of plan.dueNow()) {
          if (stopped || underWay.size >= settings.concurrency) break;
          if (full(due.targetId)) continue;
          plan.forget(due);
          const now = new Date();
          const lease = new Date(now.getTime() + settings.timeoutMs + LEASE_SLACK_MS);
          const delivery = await deliveries.claim(due._id, now, lease);
          if (delivery) begin(delivery);
        }
      } while (again && !stopped);
    } catch (error) {
      log.warn({ err: error }, 'deliveries could not be claimed; trying again soon');
    } finally {
      pumping = false;
    }
  };

  const schedule = (delivery: DueDelivery) => {
    plan.add(delivery);
    void pump();
  };
  const rescan = () =>
    plan.rescan().then(
      () => void pump(),
      (error: unknown) =>
        log.warn({ err: error }, 'due deliveries could not be read; trying again soon'),
    );

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
    if ('next' in outcome) plan.add({ ...delivery, nextAttemptAt: outcome.next });
  };

  return {
    schedule,
    start() {
      timers.push(
        setInterval(() => void pump(), 100),
        setInterval(() => void rescan(), RESCAN_MS),
      );
      for (const timer of timers) timer.unref();
      void rescan();
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.all([...underWay]);
    },
  };
}

/**
 * What this process knows to be pending, by id: when each is due and where it goes. Filled by
 * the deliveries this process makes or retries, and by reading the store (`rescan`).
 */
function createDuePlan(deliveries: DeliveryStore) {
  const planned = new Map<string, DueDelivery>();
  return {
    add: (due: DueDelivery) => void planned.set(due._id.toHexString(), due),
    forget: (due: DueDelivery) => void planned.delete(due._id.toHexString()),
    /** Those due now, oldest first. */
    dueNow(): DueDelivery[] {
      const now = Date.now();
      const at = (d: DueDelivery) => d.nextAttemptAt?.getTime() ?? 0;
      return [...planned.values()].filter((d) => at(d) <= now).sort((a, b) => at(a) - at(b));
    },
    async rescan() {
      for (const due of await deliveries.dueBy(new Date(), RESCAN_LIMIT)) {
        if (!planned.has(due._id.toHexString())) planned.set(due._id.toHexString(), due);
      }
    },
  };
}

/** An attempt that was not made, and why. */
export function skippedAttempt(why: string): AttemptRecord {
  return { at: new Date(), statusCode: null, durationMs: 0, error: why, responseHead: '' };
}
