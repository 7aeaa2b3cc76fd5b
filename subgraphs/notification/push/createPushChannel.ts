import { ObjectId, type Db } from 'mongodb';
import { ErrorCode, graphqlError } from '../../../lib/contracts/errors.js';
import type { PushSettings } from '../config.js';
import { skippedAttempt, type ChannelSender } from '../createDeliveryDispatcher.js';
import type { NoticeType } from '../noticeTypes.js';
import { parsePushSubscription, sendPush, type PushSubscriptionKeys } from './sendPush.js';

/** One browser that asked to be told: its push service endpoint and the keys to encrypt for it. */
export interface PushTarget extends PushSubscriptionKeys {
  _id: ObjectId;
  owner: string;
  events: NoticeType[];
  createdAt: Date;
}

/** Browsers a user may have subscribed at once. */
export const PUSH_SUBSCRIPTIONS_PER_USER = 20;

/** A user's browsers (collection `pushSubscriptions`), and the sending to them. */
export interface PushChannel {
  /** Null when push is not configured here (no VAPID_SECRET). */
  publicKey: string | null;
  subscribe(owner: string, raw: unknown, events: NoticeType[]): Promise<PushTarget>;
  listOwned(owner: string): Promise<PushTarget[]>;
  unsubscribe(owner: string, id: string): Promise<boolean>;
  subscribed(owner: string, type: NoticeType): Promise<PushTarget[]>;
  send: ChannelSender;
}

/**
 * Browser push (Web Push with VAPID). A subscription names its endpoint, which is the
 * browser's (so anyone's) choice: only the push services in PUSH_SERVICE_HOSTS are accepted,
 * so the service never posts anywhere else. A push service that answers 404 or 410 no longer
 * knows the browser: its subscription is removed.
 */
export async function createPushChannel(db: Db, settings: PushSettings): Promise<PushChannel> {
  const targets = db.collection<PushTarget>('pushSubscriptions');
  await targets.createIndex({ endpoint: 1 }, { name: 'one_per_endpoint', unique: true });
  await targets.createIndex({ owner: 1 }, { name: 'by_owner' });
  const vapid = settings.vapid;
  const knownService = (endpoint: string) => {
    const host = new URL(endpoint).hostname.toLowerCase();
    return settings.serviceHosts.some(
      (allowed) => host === allowed || host.endsWith(`.${allowed}`),
    );
  };

  return {
    publicKey: vapid?.publicKey ?? null,
    async subscribe(owner, raw, events) {
      if (!vapid) {
        throw graphqlError(ErrorCode.SERVICE_UNAVAILABLE, 'Browser push is not configured here');
      }
      const keys = parsePushSubscription(raw, { allowHttp: settings.allowHttp });
      if (!knownService(keys.endpoint)) {
        throw graphqlError(
          ErrorCode.BAD_USER_INPUT,
          'This is not a push service REELFLUX sends to',
          {
            field: 'subscription.endpoint',
          },
        );
      }
      if ((await targets.countDocuments({ owner })) >= PUSH_SUBSCRIPTIONS_PER_USER) {
        throw graphqlError(
          ErrorCode.QUOTA_EXCEEDED,
          `At most ${PUSH_SUBSCRIPTIONS_PER_USER} browsers per user`,
          { reason: 'PUSH_SUBSCRIPTIONS', limit: PUSH_SUBSCRIPTIONS_PER_USER },
        );
      }
      // A browser subscribing again (or for another account) replaces what it had.
      const saved = await targets.findOneAndUpdate(
        { endpoint: keys.endpoint },
        {
          $set: { owner, keys: keys.keys, events },
          $setOnInsert: { _id: new ObjectId(), createdAt: new Date() },
        },
        { upsert: true, returnDocument: 'after' },
      );
      if (!saved) throw new Error('the subscription was not saved');
      return saved;
    },
    listOwned: (owner) => targets.find({ owner }).sort({ createdAt: 1 }).toArray(),
    async unsubscribe(owner, id) {
      if (!/^[0-9a-f]{24}$/i.test(id)) return false;
      return (await targets.deleteOne({ _id: new ObjectId(id), owner })).deletedCount === 1;
    },
    subscribed: (owner, type) =>
      vapid ? targets.find({ owner, events: type }).toArray() : Promise.resolve([]),
    async send(delivery) {
      const target = await targets.findOne({ _id: delivery.targetId });
      if (!vapid || !target) {
        const why = vapid ? 'browser unsubscribed' : 'push is not configured';
        return { attempt: skippedAttempt(why), result: 'dropped' };
      }
      const at = new Date();
      const started = performance.now();
      const outcome = await sendPush(target, pushPayload(delivery), {
        vapid,
        ttlSeconds: 24 * 3600,
        timeoutMs: 10_000,
      });
      const attempt = {
        at,
        statusCode: outcome.statusCode,
        durationMs: Math.round(performance.now() - started),
        error: outcome.kind === 'failed' ? outcome.error : null,
        responseHead: '',
      };
      if (outcome.kind === 'gone') await targets.deleteOne({ _id: target._id });
      const result =
        outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'gone' ? 'dropped' : 'failed';
      return { attempt, result };
    },
  };
}

/** What the page's service worker shows (web/public/pushWorker.js): a title, a line, a link. */
function pushPayload(delivery: {
  filename: string | null;
  status: string | null;
  videoId: string | null;
}): string {
  const name = (delivery.filename ?? 'Your video').slice(0, 200);
  const title =
    delivery.status === 'SUCCEEDED'
      ? `${name} is ready as an MP3`
      : delivery.status === 'FAILED'
        ? `${name} could not be converted`
        : `${name} was not converted`;
  const url = delivery.videoId ? `/?video=${delivery.videoId}` : '/';
  return JSON.stringify({ title, body: 'REELFLUX', url });
}
