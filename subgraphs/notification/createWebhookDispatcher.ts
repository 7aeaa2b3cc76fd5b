import { ObjectId } from 'mongodb';
import type { DownloadTokens } from '../../lib/platform/createDownloadTokens.js';
import type { Logger } from '../../lib/platform/logger.js';
import type { WebhookSettings } from './config.js';
import type { AttemptRecord, DeliveryRecord, DeliveryStore } from './createDeliveryStore.js';
import { signingSecrets, type EndpointRecord, type EndpointStore } from './createEndpointStore.js';
import { planRetry } from './planRetry.js';
import { sendWebhook, type WebhookAttempt } from './webhooks/sendWebhook.js';
import { signWebhook } from './webhooks/signWebhook.js';

/** Sends due webhook deliveries, a bounded number at once, and records every attempt. */
export interface WebhookDispatcher {
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
 * The body every attempt of a delivery sends: the same but for the download link, made afresh
 * for each attempt because links expire, and the signature over it.
 */
export async function webhookBody(
  delivery: DeliveryRecord,
  downloads: DownloadTokens,
): Promise<string> {
  const audio = delivery.audioId ? await downloads.link('audio', delivery.audioId) : null;
  return JSON.stringify({
    type: delivery.type,
    timestamp: delivery.occurredAt.toISOString(),
    data: {
      version: 1,
      conversionId: delivery.conversionId,
      videoId: delivery.videoId,
      filename: delivery.filename,
      status: delivery.status,
      errorCode: delivery.errorCode,
      audio: audio && { downloadUrl: audio.url, expiresAt: audio.expiresAt.toISOString() },
    },
  });
}

/**
 * Claims due deliveries from the store, so that any number of replicas share them and a
 * delivery whose process died is due again once its lease runs out (sent again then, under the
 * same `webhook-id`). At most `concurrency` attempts at once here, and `concurrencyPerEndpoint`
 * to one endpoint: a slow or dead endpoint holds its own places, never another user's.
 */
export function createWebhookDispatcher(deps: {
  deliveries: DeliveryStore;
  endpoints: EndpointStore;
  downloads: DownloadTokens;
  settings: WebhookSettings;
  log: Logger;
  /** Told of each attempt's outcome, for metrics. */
  onAttempt?: (outcome: 'delivered' | 'retry' | 'failed' | 'dropped', durationMs: number) => void;
}): WebhookDispatcher {
  const { deliveries, endpoints, settings, log } = deps;
  const perEndpoint = new Map<string, number>();
  const underWay = new Set<Promise<void>>();
  let pumping = false;
  let again = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const busyEndpoints = () =>
    [...perEndpoint]
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
          const delivery = await deliveries.claimDue(now, lease, busyEndpoints());
          if (!delivery) break;
          begin(delivery);
        }
      } while (again && !stopped);
    } catch (error) {
      log.warn({ err: error }, 'webhook deliveries could not be claimed; trying again soon');
    } finally {
      pumping = false;
    }
  };

  const begin = (delivery: DeliveryRecord) => {
    const key = delivery.targetId.toHexString();
    perEndpoint.set(key, (perEndpoint.get(key) ?? 0) + 1);
    const attempt: Promise<void> = deliver(delivery)
      .catch((error: unknown) =>
        log.warn(
          { err: error, deliveryId: delivery._id.toHexString() },
          'webhook attempt not recorded',
        ),
      )
      .finally(() => {
        const left = (perEndpoint.get(key) ?? 1) - 1;
        if (left > 0) perEndpoint.set(key, left);
        else perEndpoint.delete(key);
        underWay.delete(attempt);
        void pump();
      });
    underWay.add(attempt);
  };

  const deliver = async (delivery: DeliveryRecord) => {
    const endpoint = await endpoints.findById(delivery.targetId);
    if (!endpoint?.enabled) {
      const why = endpoint ? 'endpoint disabled' : 'endpoint removed';
      await record(delivery, skipped(why), { final: 'DROPPED' }, 'dropped');
      return;
    }
    const now = new Date();
    const body = await webhookBody(delivery, deps.downloads);
    const result = await sendWebhook({
      url: new URL(endpoint.url),
      headers: signWebhook({
        id: delivery._id.toHexString(),
        timestamp: now,
        body,
        secrets: signingSecrets(endpoint, now),
      }),
      body,
      timeoutMs: settings.timeoutMs,
      policy: settings,
    });
    const attempt = attemptOf(now, result);
    if (result.ok) {
      await record(delivery, attempt, { final: 'DELIVERED' }, 'delivered');
      await endpoints.answered(endpoint._id);
      return;
    }
    const next = planRetry(delivery.round, settings.retryScheduleMs, new Date());
    if (next) await record(delivery, attempt, { next, round: delivery.round + 1 }, 'retry');
    else await record(delivery, attempt, { final: 'FAILED' }, 'failed');
    await noteFailure(endpoint, now);
  };

  const record = async (
    delivery: DeliveryRecord,
    attempt: AttemptRecord,
    outcome: Parameters<DeliveryStore['recordAttempt']>[2],
    kind: 'delivered' | 'retry' | 'failed' | 'dropped',
  ) => {
    await deliveries.recordAttempt(delivery._id, attempt, outcome);
    deps.onAttempt?.(kind, attempt.durationMs);
  };

  /** An endpoint failing for `disableAfterMs` is turned off, and what it had pending dropped. */
  const noteFailure = async (endpoint: EndpointRecord, at: Date) => {
    const now = await endpoints.failed(endpoint._id, at);
    if (!now?.failingSince || at.getTime() - now.failingSince.getTime() < settings.disableAfterMs) {
      return;
    }
    const days = Math.round(settings.disableAfterMs / 86_400_000);
    await endpoints.disable(endpoint._id, `failed every attempt for ${days} days`);
    await deliveries.dropForTarget(endpoint._id);
    log.warn(
      { endpointId: endpoint._id.toHexString() },
      'webhook endpoint disabled after failing for days',
    );
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

function attemptOf(at: Date, result: WebhookAttempt): AttemptRecord {
  return {
    at,
    statusCode: result.statusCode,
    durationMs: Math.round(result.durationMs),
    error: result.error,
    responseHead: result.responseHead,
  };
}

function skipped(why: string): AttemptRecord {
  return { at: new Date(), statusCode: null, durationMs: 0, error: why, responseHead: '' };
}
