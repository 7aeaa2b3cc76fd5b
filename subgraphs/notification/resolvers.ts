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
import type { EmailChannel } from './email/createEmailChannel.js';
import type { EmailSettings, EmailStore } from './email/createEmailStore.js';
import { NOTICE_TYPES, enumFromNoticeType, noticeTypesFromEnums } from './noticeTypes.js';
import type { PushChannel, PushTarget } from './push/createPushChannel.js';

export function createResolvers(deps: {
  endpoints: EndpointStore;
  deliveries: DeliveryStore;
  webhooks: WebhookEndpoints;
  emailStore: EmailStore;
  email: EmailChannel;
  push: PushChannel;
}): SubgraphResolvers {
  const { endpoints, deliveries, webhooks, email, push } = deps;
  return {
    DateTime: DateTimeScalar,
    Query: {
      webhookEndpoints: (_: unknown, __: unknown, ctx) => endpoints.listOwned(requireUser(ctx)),
      webhookEndpoint: (_: unknown, args: { id: string }, ctx) =>
        endpoints.findOwned(args.id, requireUser(ctx)),
      emailNotifications: (_: unknown, __: unknown, ctx) =>
        deps.emailStore.forOwner(requireUser(ctx)),
      vapidPublicKey: () => push.publicKey,
      pushSubscriptions: (_: unknown, __: unknown, ctx) => push.listOwned(requireUser(ctx)),
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
      setNotificationEmail: (_: unknown, args: { address: string }, ctx) =>
        email.setAddress(requireUser(ctx), args.address),
      verifyNotificationEmail: (_: unknown, args: { code: string }, ctx) =>
        email.verify(requireUser(ctx), args.code),
      updateEmailNotifications: (
        _: unknown,
        args: { enabled?: boolean | null; events?: string[] | null },
        ctx,
      ) =>
        email.update(requireUser(ctx), {
          ...(typeof args.enabled === 'boolean' ? { enabled: args.enabled } : {}),
          ...(args.events ? { events: noticeTypesFromEnums(args.events) } : {}),
        }),
      addPushSubscription: (
        _: unknown,
        args: { subscription: unknown; events?: string[] | null },
        ctx,
      ) =>
        push.subscribe(
          requireUser(ctx),
          args.subscription,
          args.events ? noticeTypesFromEnums(args.events) : [...NOTICE_TYPES],
        ),
      removePushSubscription: (_: unknown, args: { id: string }, ctx) =>
        push.unsubscribe(requireUser(ctx), args.id),
    },
    PushSubscription: {
      id: (target: PushTarget) => target._id.toHexString(),
      events: (target: PushTarget) => target.events.map(enumFromNoticeType),
    },
    EmailNotifications: {
      events: (settings: EmailSettings) => settings.events.map(enumFromNoticeType),
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
