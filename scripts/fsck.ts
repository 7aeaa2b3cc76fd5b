import { MongoClient } from 'mongodb';
import { readEnv } from '../lib/platform/readEnv.js';
import { checkConsistency } from './checkConsistency.js';
import { ensureInfrastructure } from './ensureInfrastructure.js';

// `npm run fsck`: prints every inconsistency and exits 1 if there is any (see checkConsistency).
const env = readEnv();
const infra = await ensureInfrastructure();
const mongo = new MongoClient(infra.mongodbUri);
try {
  const findings = await checkConsistency({
    mongo,
    dbPrefix: env.string('DB_PREFIX', 'reelflux_'),
    amqpUrl: infra.amqpUrl,
    amqpNamePrefix: env.string('AMQP_NAME_PREFIX', ''),
    stuckAfterMs: env.int('STUCK_AFTER_SECONDS', 120, { min: 1 }) * 1000,
    settleMs: env.int('FSCK_SETTLE_SECONDS', 5, { min: 0 }) * 1000,
  });
  for (const finding of findings) process.stdout.write(`${finding}\n`);
  process.stdout.write(
    findings.length === 0 ? 'fsck: consistent\n' : `fsck: ${findings.length} problem(s)\n`,
  );
  process.exitCode = findings.length === 0 ? 0 : 1;
} finally {
  await mongo.close();
  await infra.stop();
}
