import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ObjectId, type Db } from 'mongodb';
import { NOTICE_TYPES, type NoticeType } from '../noticeTypes.js';

/** A user's notification address: theirs to mail only once they proved it (`verified`). */
export interface EmailSettings {
  /** Also the target of its deliveries. */
  _id: ObjectId;
  owner: string;
  address: string;
  verified: boolean;
  enabled: boolean;
  events: NoticeType[];
  /** What proves the address, while it is unproven: hashes only, never the code or token. */
  proof: { codeHash: string; tokenHash: string; expiresAt: Date; triesLeft: number } | null;
  /** What the one-click unsubscribe link carries. */
  unsubscribeToken: string;
}

/** How long a verification code or link works, and how many wrong codes it takes. */
export const PROOF_TTL_MS = 30 * 60 * 1000;
export const PROOF_TRIES = 5;

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The notification addresses (collection `emailSettings`), one per user. */
export interface EmailStore {
  forOwner(owner: string): Promise<EmailSettings | null>;
  findById(id: ObjectId): Promise<EmailSettings | null>;
  /**
   * `address` is the owner's address from now on, unproven, with a new code and link; the
   * settings as they are now (enabled stays as it was; on for a first address).
   */
  setAddress(owner: string, address: string, code: string, token: string): Promise<EmailSettings>;
  /** Verified by the code; null when it is wrong, expired or out of tries (one try spent). */
  verifyCode(owner: string, code: string): Promise<EmailSettings | null>;
  /** Verified by the link's token; null when it matches no unexpired proof. */
  verifyToken(token: string): Promise<EmailSettings | null>;
  update(
    owner: string,
    change: { enabled?: boolean; events?: NoticeType[] },
  ): Promise<EmailSettings | null>;
  /** Turned off by its one-click link; null when the token matches nothing. */
  unsubscribe(token: string): Promise<EmailSettings | null>;
}

export async function createEmailStore(db: Db): Promise<EmailStore> {
  const settings = db.collection<EmailSettings>('emailSettings');
  await settings.createIndex({ owner: 1 }, { name: 'one_per_owner', unique: true });
  await settings.createIndex({ unsubscribeToken: 1 }, { name: 'by_unsubscribe_token' });
  await settings.createIndex({ 'proof.tokenHash': 1 }, { name: 'by_proof_token' });

  const verified = (record: EmailSettings) =>
    settings.findOneAndUpdate(
      { _id: record._id, proof: record.proof },
      { $set: { verified: true, proof: null } },
      { returnDocument: 'after' },
    );

  return {
    forOwner: (owner) => settings.findOne({ owner }),
    findById: (id) => settings.findOne({ _id: id }),
    async setAddress(owner, address, code, token) {
      const proof = {
        codeHash: hash(code),
        tokenHash: hash(token),
        expiresAt: new Date(Date.now() + PROOF_TTL_MS),
        triesLeft: PROOF_TRIES,
      };
      const updated = await settings.findOneAndUpdate(
        { owner },
        {
          $set: { address, verified: false, proof },
          $setOnInsert: {
            _id: new ObjectId(),
            enabled: true,
            events: [...NOTICE_TYPES],
            unsubscribeToken: randomBytes(24).toString('base64url'),
          },
        },
        { upsert: true, returnDocument: 'after' },
      );
      if (!updated) throw new Error('the address was not saved');
      return updated;
    },
    async verifyCode(owner, code) {
      const record = await settings.findOne({ owner });
      const proof = record?.proof;
      if (!record || !proof || proof.expiresAt < new Date() || proof.triesLeft <= 0) return null;
      if (same(proof.codeHash, hash(code))) return verified(record);
      await settings.updateOne(
        { _id: record._id, 'proof.codeHash': proof.codeHash },
        { $inc: { 'proof.triesLeft': -1 } },
      );
      return null;
    },
    async verifyToken(token) {
      const record = await settings.findOne({ 'proof.tokenHash': hash(token) });
      if (!record?.proof || record.proof.expiresAt < new Date()) return null;
      return verified(record);
    },
    update: (owner, change) =>
      settings.findOneAndUpdate({ owner }, { $set: change }, { returnDocument: 'after' }),
    unsubscribe: (token) =>
      settings.findOneAndUpdate(
        { unsubscribeToken: token },
        { $set: { enabled: false } },
        { returnDocument: 'after' },
      ),
  };
}
