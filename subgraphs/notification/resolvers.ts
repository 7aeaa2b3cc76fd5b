import { DateTimeScalar } from '../../lib/contracts/DateTimeScalar.js';
import { readPageSize } from '../../lib/contracts/pagination.js';
import {
  requireUser,
  type SubgraphContext,
  type SubgraphResolvers,
} from '../../lib/server/createSubgraphServer.js';
import type { DeliveryRecord, DeliveryStore } from './createDeliveryStore.js';
import type { EndpointRecord, EndpointStore } from './createEndpointStore.js';
import type { WebhookEndpoints } from './createWebhookEndpoints.js';
import { enumFromNoticeType } from './noticeTypes.js';

export function createResolvers(deps: {
  endpoints: EndpointStore;
  deliveries: DeliveryStore;
  webhooks: WebhookEndpoints;
}): SubgraphResolvers {
  const { endpoints, deliveries, webhooks } = deps;
  return {
    DateTime: DateTimeScalar,
    Query: {
      webhookEndpoints: (_: unknown, __: unknown, ctx) => endpoints.listOwned(requireUser(ctx)),
      webhookEndpoint: (_: unknown, args: { id: string }, ctx) =>
        endpoints.findOwned(args.id, requireUser(ctx)),
    },
    Mutation: {
      addWebhookEndpoint: (
        _: unknown,
        args: { input: { url: string; events?: string[] | null } },
        ctx,
      ) => webhooks.add(requireUser(ctx), args.input),
      updateWebhookEndpoint: (
        _: unknown,
        args: {
          id: string;
          change: { url?: string | null; events?: string[] | null; enabled?: boolean | null };
        },
        ctx,
      ) => webhooks.update(requireUser(ctx), args.id, args.change),
      removeWebhookEndpoint: (_: unknown, args: { id: string }, ctx) =>
        webhooks.remove(requireUser(ctx), args.id),
      rotateWebhookSecret: (_: unknown, args: { id: string }, ctx) =>
        webhooks.rotate(requireUser(ctx), args.id),
      testWebhookEndpoint: (_: unknown, args: { id: string }, ctx) =>
        webhooks.test(requireUser(ctx), args.id),
      replayWebhookDelivery: (_: unknown, args: { id: string }, ctx) =>
        webhooks.replay(requireUser(ctx), args.id),
    },
    WebhookEndpoint: {
      id: (endpoint: EndpointRecord) => endpoint._id.toHexString(),
      events: (endpoint: EndpointRecord) => endpoint.events.map(enumFromNoticeType),
      previousSecretExpiresAt: (endpoint: EndpointRecord) =>
        endpoint.secrets.find((s) => s.expiresAt !== null)?.expiresAt ?? null,
      deliveries: (endpoint: EndpointRecord, args: { first?: number | null }) =>
        deliveries.forTarget(endpoint._id, readPageSize(args.first)),
      __resolveReference: (ref: { id: string }, ctx: SubgraphContext) =>
        ctx.userId ? endpoints.findOwned(ref.id, ctx.userId) : null,
    },
    WebhookDelivery: {
      id: (delivery: DeliveryRecord) => delivery._id.toHexString(),
      status: (delivery: DeliveryRecord) => delivery.deliveryStatus,
    },
  };
}
