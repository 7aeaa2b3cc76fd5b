import { ObjectId, type Collection, type Db } from 'mongodb';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { isDuplicateKeyError } from '../../lib/platform/mongo.js';
import type { NoticeType } from './noticeTypes.js';

/** A signing secret; the one a rotation replaced keeps signing until `expiresAt`. */
export interface SigningSecret {
  secret: string;
  expiresAt: Date | null;
}

export interface EndpointRecord {
  _id: ObjectId;
  owner: string;
  url: string;
  events: NoticeType[];
  enabled: boolean;
  disabledReason: string | null;
  /** Newest first: the current secret, then at most one that a rotation replaced. */
  secrets: SigningSecret[];
  /** When its current run of failed attempts began; null while it answers. */
  failingSince: Date | null;
  createdAt: Date;
  /**
   * Its place among its owner's at most `max` endpoints, 0 to max − 1, unique per owner: two
   * adds at the same instant cannot both take the last place, as two counts could.
   */
  slot: number;
}

export interface EndpointChange {
  url?: string;
  events?: NoticeType[];
  enabled?: boolean;
}

/** How long the secret a rotation replaces keeps signing beside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/**
 * The webhook endpoints (collection `webhookEndpoints`): each user's own, looked up by owner so
 * another user's ids do not exist for them.
 */
export interface EndpointStore {
  /** A new endpoint, unless its owner has `max` already (QUOTA_EXCEEDED). */
  add(
    fields: Pick<EndpointRecord, 'owner' | 'url' | 'events'>,
    secret: string,
    max: number,
  ): Promise<EndpointRecord>;
  listOwned(owner: string): Promise<EndpointRecord[]>;
  findOwned(id: string, owner: string): Promise<EndpointRecord | null>;
  findById(id: ObjectId): Promise<EndpointRecord | null>;
  /** NOT_FOUND when it is not the owner's. Turning one on forgets its run of failures. */
  update(id: string, owner: string, change: EndpointChange): Promise<EndpointRecord>;
  remove(id: string, owner: string): Promise<EndpointRecord | null>;
  /** `secret` signs from now on; the current one goes on signing for ROTATION_OVERLAP_MS. */
  rotate(id: string, owner: string, secret: string, now: Date): Promise<EndpointRecord>;
  /** The owner's enabled endpoints that asked for `type`. */
  subscribed(owner: string, type: NoticeType): Promise<EndpointRecord[]>;
  /** It answered: its run of failures, if any, is over. */
  answered(id: ObjectId): Promise<void>;
  /** It failed at `at`: the start of its run of failures, kept if one is under way. */
  failed(id: ObjectId, at: Date): Promise<EndpointRecord | null>;
  disable(id: ObjectId, reason: string): Promise<void>;
}

/** The secrets that sign a request at `now`: the current one, and a replaced one still in time. */
export function signingSecrets(endpoint: EndpointRecord, now: Date): string[] {
  return endpoint.secrets
    .filter((s) => s.expiresAt === null || s.expiresAt > now)
    .map((s) => s.secret);
}

export async function createEndpointStore(db: Db): Promise<EndpointStore> {
  const endpoints = db.collection<EndpointRecord>('webhookEndpoints');
  await endpoints.createIndex({ owner: 1, createdAt: 1 }, { name: 'by_owner' });
  await placeUnplacedEndpoints(endpoints);
  await endpoints.createIndex({ owner: 1, slot: 1 }, { name: 'one_per_slot', unique: true });
  const idOf = (id: string) => (/^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null);
  const notFound = () => graphqlError(ErrorCode.NOT_FOUND, 'No such webhook endpoint');
  const owned = (id: string, owner: string) => {
    const _id = idOf(id);
    if (!_id) throw notFound();
    return { _id, owner };
  };

  return {
    async add(fields, secret, max) {
      // A lost race for a place is tried again against the places then taken; `max` tries
      // cover every place.
      for (let tries = 0; tries < max; tries += 1) {
        const taken = new Set(
          (
            await endpoints.find({ owner: fields.owner }, { projection: { slot: 1 } }).toArray()
          ).map((endpoint) => endpoint.slot),
        );
        const slot = Array.from({ length: max }, (_, place) => place).find((p) => !taken.has(p));
        if (slot === undefined) break;
        const record: EndpointRecord = {
          _id: new ObjectId(),
          ...fields,
          enabled: true,
          disabledReason: null,
          secrets: [{ secret, expiresAt: null }],
          failingSince: null,
          createdAt: new Date(),
          slot,
        };
        try {
          await endpoints.insertOne(record);
          return record;
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
        }
      }
      throw graphqlError(ErrorCode.QUOTA_EXCEEDED, `At most ${max} webhook endpoints per user`, {
        reason: 'WEBHOOK_ENDPOINTS',
        limit: max,
      });
    },
    listOwned: (owner) => endpoints.find({ owner }).sort({ createdAt: 1 }).toArray(),
    findOwned: async (id, owner) => {
      const _id = idOf(id);
      return _id ? endpoints.findOne({ _id, owner }) : null;
    },
    findById: (id) => endpoints.findOne({ _id: id }),
    async update(id, owner, change) {
      const set: Partial<EndpointRecord> = {};
      if (change.url !== undefined) set.url = change.url;
      if (change.events !== undefined) set.events = change.events;
      if (change.enabled !== undefined) {
        set.enabled = change.enabled;
        set.disabledReason = change.enabled ? null : 'turned off by its owner';
        if (change.enabled) set.failingSince = null;
      }
      const updated = await endpoints.findOneAndUpdate(
        owned(id, owner),
        { $set: set },
        {
          returnDocument: 'after',
        },
      );
      if (!updated) throw notFound();
      return updated;
    },
    remove: (id, owner) => endpoints.findOneAndDelete(owned(id, owner)),
    async rotate(id, owner, secret, now) {
      const current = await endpoints.findOne(owned(id, owner));
      if (!current) throw notFound();
      const replaced = current.secrets.find((s) => s.expiresAt === null);
      const secrets: SigningSecret[] = [{ secret, expiresAt: null }];
      if (replaced) {
        secrets.push({
          secret: replaced.secret,
          expiresAt: new Date(now.getTime() + ROTATION_OVERLAP_MS),
        });
      }
      // Compare-and-set on the secrets read: of two rotations at once, one wins and one fails.
      const rotated = await endpoints.findOneAndUpdate(
        { _id: current._id, secrets: current.secrets },
        { $set: { secrets } },
        { returnDocument: 'after' },
      );
      if (!rotated) {
        throw graphqlError(ErrorCode.BAD_REQUEST, 'The secret was rotated meanwhile; try again');
      }
      return rotated;
    },
    subscribed: (owner, type) => endpoints.find({ owner, enabled: true, events: type }).toArray(),
    async answered(id) {
      await endpoints.updateOne(
        { _id: id, failingSince: { $ne: null } },
        { $set: { failingSince: null } },
      );
    },
    async failed(id, at) {
      await endpoints.updateOne({ _id: id, failingSince: null }, { $set: { failingSince: at } });
      return endpoints.findOne({ _id: id });
    },
    async disable(id, reason) {
      await endpoints.updateOne({ _id: id }, { $set: { enabled: false, disabledReason: reason } });
    },
  };
}

/**
 * Endpoints stored before places were numbered get one each, their owner's lowest free, oldest
 * first, so the unique index can be made and they count against the limit. Places may pass
 * the limit for an owner who had more; `add` then finds none free.
 */
async function placeUnplacedEndpoints(endpoints: Collection<EndpointRecord>): Promise<void> {
  const unplaced = await endpoints
    .find({ slot: { $exists: false } }, { projection: { _id: 1, owner: 1 } })
    .sort({ createdAt: 1 })
    .toArray();
  const taken = new Map<string, Set<number>>();
  for (const { _id, owner } of unplaced) {
    let places = taken.get(owner);
    if (!places) {
      const placed = await endpoints
        .find({ owner, slot: { $exists: true } }, { projection: { slot: 1 } })
        .toArray();
      places = new Set(placed.map((endpoint) => endpoint.slot));
      taken.set(owner, places);
    }
    let slot = 0;
    while (places.has(slot)) slot += 1;
    places.add(slot);
    await endpoints.updateOne({ _id, slot: { $exists: false } }, { $set: { slot } });
  }
}
