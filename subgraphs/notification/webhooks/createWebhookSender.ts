import type { DownloadTokens } from '../../../lib/platform/createDownloadTokens.js';
import type { Logger } from '../../../lib/platform/logger.js';
import type { WebhookSettings } from '../config.js';
import { skippedAttempt, type ChannelSender } from '../createDeliveryDispatcher.js';
import type { DeliveryRecord, DeliveryStore } from '../createDeliveryStore.js';
import { signingSecrets, type EndpointRecord, type EndpointStore } from '../createEndpointStore.js';
import { sendWebhook } from './sendWebhook.js';
import { signWebhook } from './signWebhook.js';

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
 * One signed POST of a delivery to its endpoint. A 2xx is delivered; anything else failed (and
 * counted against the endpoint: one failing for `disableAfterMs` is turned off, its pending
 * deliveries dropped, and `onDisabled` told, to let its owner know).
 */
export function createWebhookSender(deps: {
  endpoints: EndpointStore;
  deliveries: DeliveryStore;
  downloads: DownloadTokens;
  settings: WebhookSettings;
  log: Logger;
  onDisabled: (endpoint: EndpointRecord) => Promise<void>;
}): ChannelSender {
  const { endpoints, settings } = deps;

  const noteFailure = async (endpoint: EndpointRecord, at: Date) => {
    const now = await endpoints.failed(endpoint._id, at);
    if (!now?.failingSince || at.getTime() - now.failingSince.getTime() < settings.disableAfterMs) {
      return;
    }
    const days = Math.round(settings.disableAfterMs / 86_400_000);
    await endpoints.disable(endpoint._id, `failed every attempt for ${days} days`);
    await deps.deliveries.dropForTarget(endpoint._id);
    deps.log.warn(
      { endpointId: endpoint._id.toHexString() },
      'webhook endpoint disabled after failing for days',
    );
    await deps
      .onDisabled(endpoint)
      .catch((error: unknown) =>
        deps.log.warn({ err: error }, 'could not tell the owner of a disabled endpoint'),
      );
  };

  return async (delivery) => {
    const endpoint = await endpoints.findById(delivery.targetId);
    if (!endpoint?.enabled) {
      const why = endpoint ? 'endpoint disabled' : 'endpoint removed';
      return { attempt: skippedAttempt(why), result: 'dropped' };
    }
    const now = new Date();
    const body = await webhookBody(delivery, deps.downloads);
    const sent = await sendWebhook({
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
    const attempt = {
      at: now,
      statusCode: sent.statusCode,
      durationMs: Math.round(sent.durationMs),
      error: sent.error,
      responseHead: sent.responseHead,
    };
    if (sent.ok) {
      await endpoints.answered(endpoint._id);
      return { attempt, result: 'delivered' };
    }
    await noteFailure(endpoint, now);
    return { attempt, result: 'failed' };
  };
}
