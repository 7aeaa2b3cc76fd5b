import { MongoClient } from 'mongodb';
import { checkConsistency } from '../../scripts/checkConsistency.js';

/**
 * `npm run fsck` for one test stack's databases and queues (`prefix` is both its DB_PREFIX and
 * its AMQP_NAME_PREFIX): every inconsistency found, none when all is well.
 */
export async function fsckFindings(options: {
  mongodbUri: string;
  amqpUrl: string;
  prefix: string;
}): Promise<string[]> {
  const mongo = new MongoClient(options.mongodbUri);
  try {
    return await checkConsistency({
      mongo,
      dbPrefix: options.prefix,
      amqpUrl: options.amqpUrl,
      amqpNamePrefix: options.prefix,
      stuckAfterMs: 30_000,
      settleMs: 2_000,
    });
  } finally {
    await mongo.close();
  }
}
