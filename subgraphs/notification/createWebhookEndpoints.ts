import { ObjectId } from 'mongodb';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { spendOrRefuse, type RateWindows } from '../../lib/stores/createRateWindows.js';
import type { WebhookSettings } from './config.js';
import type { DeliveryRecord, DeliveryStore, DueDelivery } from './createDeliveryStore.js';
import type { EndpointChange, EndpointRecord, EndpointStore } from './createEndpointStore.js';
import { NOTICE_TYPES, TEST_NOTICE, noticeTypesFromEnums, type NoticeType } from './noticeTypes.js';
import { checkWebhookUrl } from './webhooks/checkWebhookUrl.js';
import { newWebhookSecret } from './webhooks/signWebhook.js';

/** What a user does to their webhook endpoints; each call is checked and counted. */
export interface WebhookEndpoints {
  add(
    owner: string,
    input: { url: string; events?: string[] | null },
  ): Promise<{ endpoint: EndpointRecord; secret: string }>;
  update(
    owner: string,
    id: string,
    change: { url?: string | null; events?: string[] | null; enabled?: boolean | null },
  ): Promise<EndpointRecord>;
  remove(owner: string, id: string): Promise<boolean>;
  rotate(owner: string, id: string): Promise<{ endpoint: EndpointRecord; secret: string }>;
  /** A webhook.test delivery to the endpoint, due now. */
  test(owner: string, id: string): Promise<DeliveryRecord>;
  replay(owner: string, deliveryId: string): Promise<DeliveryRecord>;
}

/**
 * Checks every input before anything is stored (a URL the service may not call, an unknown
 * event, too many endpoints), so a refused request leaves nothing half-made; counts each
 * mutation against the user's budget per minute, and test sends against theirs per hour.
 */
export function createWebhookEndpoints(deps: {
  endpoints: EndpointStore;
  deliveries: DeliveryStore;
  rates: RateWindows;
  settings: WebhookSettings;
  mutationsPerMinute: number;
  /** A delivery was made or replayed: send it now. */
  onQueued: (delivery: DueDelivery) => void;
}): WebhookEndpoints {
  const { endpoints, deliveries, settings } = deps;
  const spend = (owner: string) =>
    spendOrRefuse(
      deps.rates,
      `mutations:${owner}`,
      { max: deps.mutationsPerMinute, windowSeconds: 60 },
      'notification requests',
    );
  const url = (raw: string) => checkWebhookUrl(raw, settings).toString();
  const events = (raw: string[] | null | undefined): NoticeType[] =>
    raw === null || raw === undefined ? [...NOTICE_TYPES] : noticeTypesFromEnums(raw);
  const owned = async (owner: string, id: string) =>
    (await endpoints.findOwned(id, owner)) ??
    Promise.reject(graphqlError(ErrorCode.NOT_FOUND, 'No such webhook endpoint'));

  return {
    async add(owner, input) {
      const fields = { owner, url: url(input.url), events: events(input.events) };
      await spend(owner);
      const secret = newWebhookSecret();
      return { endpoint: await endpoints.add(fields, secret, settings.endpointsPerUser), secret };
    },
    async update(owner, id, change) {
      const checked: EndpointChange = {};
      if (change.url !== null && change.url !== undefined) checked.url = url(change.url);
      if (change.events !== null && change.events !== undefined) {
        checked.events = events(change.events);
      }
      if (change.enabled !== null && change.enabled !== undefined) checked.enabled = change.enabled;
      await spend(owner);
      const updated = await endpoints.update(id, owner, checked);
      if (checked.enabled === false) await deliveries.dropForTarget(updated._id);
      return updated;
    },
    async remove(owner, id) {
      await spend(owner);
      const removed = await endpoints.remove(id, owner);
      if (removed) await deliveries.dropForTarget(removed._id);
      return removed !== null;
    },
    async rotate(owner, id) {
      await spend(owner);
      const secret = newWebhookSecret();
      return { endpoint: await endpoints.rotate(id, owner, secret, new Date()), secret };
    },
    async test(owner, id) {
      const endpoint = await owned(owner, id);
      await spendOrRefuse(
        deps.rates,
        `webhook-tests:${owner}`,
        { max: settings.testsPerHour, windowSeconds: 3600 },
        'test sends',
      );
      const made = await deliveries.enqueue({
        owner,
        channel: 'webhook',
        targetId: endpoint._id,
        eventKey: `test:${new ObjectId().toHexString()}`,
        type: TEST_NOTICE,
        conversionId: null,
        videoId: null,
        filename: null,
        status: null,
        errorCode: null,
        audioId: null,
        occurredAt: new Date(),
      });
      if (!made) throw new Error('a fresh test delivery found one under its key');
      deps.onQueued(made);
      return made;
    },
    async replay(owner, deliveryId) {
      await spend(owner);
      const replayed = await deliveries.replay(deliveryId, owner, new Date());
      deps.onQueued(replayed);
      return replayed;
    },
  };
}
