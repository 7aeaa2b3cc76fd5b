import { ObjectId, type Db } from 'mongodb';
import { isDuplicateKeyError } from '../../lib/platform/mongo.js';

export interface UserRecord {
  _id: ObjectId;
  /** Normalised (see normalizeEmail); unique by index. */
  email: string;
  passwordHash: string;
  createdAt: Date;
}

export class EmailTakenError extends Error {
  override name = 'EmailTakenError';
}

export interface UserStore {
  create(email: string, passwordHash: string): Promise<UserRecord>;
  findByEmail(email: string): Promise<UserRecord | null>;
  findById(id: string): Promise<UserRecord | null>;
}

export async function createUserStore(db: Db): Promise<UserStore> {
  const users = db.collection<UserRecord>('users');
  // The unique index, not a lookup before insert, is what stops two racing sign-ups.
  await users.createIndex({ email: 1 }, { unique: true, name: 'email_unique' });

  return {
    async create(email, passwordHash) {
      const user: UserRecord = { _id: new ObjectId(), email, passwordHash, createdAt: new Date() };
      try {
        await users.insertOne(user);
      } catch (error) {
        if (isDuplicateKeyError(error)) throw new EmailTakenError(email);
        throw error;
      }
      return user;
    },
    findByEmail: (email) => users.findOne({ email }),
    findById: async (id) =>
      ObjectId.isValid(id) ? users.findOne({ _id: new ObjectId(id) }) : null,
  };
}
