import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { ObjectId, type MongoClient } from 'mongodb';
import { AUDIO_BUCKET, VIDEO_BUCKET } from '../lib/stores/gridfs.js';
import { isResumableAlive, uploadMarkersNow } from '../lib/stores/uploadFiles.js';
import { serviceDatabaseName } from '../lib/platform/mongo.js';
import { topologyNames } from '../lib/broker/topology.js';

export interface ConsistencyOptions {
  mongo: MongoClient;
  dbPrefix: string;
  amqpUrl: string;
  amqpNamePrefix: string;
  /** A RUNNING conversion silent this long, or a QUEUED one never sent, counts as stuck. */
  stuckAfterMs: number;
  /**
   * A live system is inconsistent for a moment while it works: a deleted video's conversions
   * go when its event arrives, an MP3 finished as its video was deleted goes once its worker
   * looks. When the first look finds anything, a second look this much later decides: only
   * what both find is reported. 0 reports the first look as it is. @default 0
   */
  settleMs?: number;
}

/**
 * Walks media's and conversion's databases and the dead-letter queues, and returns one line
 * per inconsistency (none when all is well); see scanOnce for what it looks at, and settleMs
 * for how a running system's work in progress is told from what is lost.
 */
export async function checkConsistency(options: ConsistencyOptions): Promise<string[]> {
  const first = await scanOnce(options);
  if (first.length === 0 || !options.settleMs) return first;
  await sleep(options.settleMs);
  const again = new Set(await scanOnce(options));
  return first.filter((finding) => again.has(finding));
}

/**
 * One look at media's and conversion's databases and the dead-letter queues: a line per
 * inconsistency, each the same from one look to the next while it lasts (no ages in them):
 * files without records and records without files,
 * chunks without a file (but for an upload still streaming, or an MP3 its worker is storing),
 * uploads or removals left half-done, MP3s without a successful conversion, conversions stuck
 * with nothing behind them, and messages parked in dead-letter queues.
 */
async function scanOnce(options: ConsistencyOptions): Promise<string[]> {
  const media = options.mongo.db(serviceDatabaseName(options.dbPrefix, 'media'));
  const conversion = options.mongo.db(serviceDatabaseName(options.dbPrefix, 'conversion'));
  const findings: string[] = [];
  const ids = async (collection: string, db = media, field = '_id') =>
    new Set(
      (await db.collection(collection).distinct(field)).map((id: ObjectId | string) => String(id)),
    );

  const videoRecords = await ids('videos');
  const unannounced = await media
    .collection<{ _id: ObjectId; uploadedAt: Date }>('videos')
    .find({ announced: false }, { projection: { uploadedAt: 1 } })
    .toArray();
  for (const video of unannounced) {
    if (Date.now() - video.uploadedAt.getTime() > options.stuckAfterMs)
      findings.push(`video ${video._id.toHexString()}: stored but never announced`);
  }
  const videoFiles = await ids(`${VIDEO_BUCKET}.files`);
  for (const id of videoRecords)
    if (!videoFiles.has(id)) findings.push(`video ${id}: record without its file`);
  for (const id of videoFiles)
    if (!videoRecords.has(id)) findings.push(`video file ${id}: no record (orphan file)`);

  // An upload marked less than stuckAfterMs ago is still streaming: its chunks have no file yet;
  // so is a resumable upload that has not expired, however long it pauses.
  const streaming = new Set<string>();
  for (const marker of await uploadMarkersNow(media)) {
    if (
      Date.now() - marker.startedAt.getTime() <= options.stuckAfterMs ||
      isResumableAlive(marker)
    ) {
      streaming.add(marker._id.toHexString());
    } else {
      findings.push(
        `video file ${marker._id.toHexString()}: an upload or removal left half-done (marked ${marker.startedAt.toISOString()})`,
      );
    }
  }
  const conversions = await conversion
    .collection<{
      _id: ObjectId;
      videoId: string;
      status: string;
      audioId: string | null;
      heartbeatAt: Date | null;
      jobSentAt: Date | null;
      queuedAt: Date;
      awaitingUpload?: boolean;
    }>('conversions')
    .find(
      {},
      {
        projection: {
          videoId: 1,
          status: 1,
          audioId: 1,
          heartbeatAt: 1,
          jobSentAt: 1,
          queuedAt: 1,
          awaitingUpload: 1,
        },
      },
    )
    .toArray();
  // A SUCCEEDED conversion names its MP3 (each run stores its own, under a file id of its own).
  const kept = new Set(
    conversions.flatMap((c) => (c.status === 'SUCCEEDED' && c.audioId ? [c.audioId] : [])),
  );
  // A running conversion's worker stores its MP3 chunk by chunk as ffmpeg makes it; the file
  // document comes last.
  const running = new Set(
    conversions.filter((c) => c.status === 'RUNNING').map((c) => c._id.toHexString()),
  );
  for (const bucket of [VIDEO_BUCKET, AUDIO_BUCKET]) {
    const files = await ids(`${bucket}.files`);
    for (const id of await ids(`${bucket}.chunks`, media, 'files_id')) {
      if (files.has(id)) continue;
      if (bucket === VIDEO_BUCKET && streaming.has(id)) continue;
      if (bucket === AUDIO_BUCKET) {
        const chunk = await media
          .collection<{ conversionId: string }>(`${bucket}.chunks`)
          .findOne({ files_id: new ObjectId(id) }, { projection: { conversionId: 1 } });
        if (chunk && running.has(chunk.conversionId)) continue;
      }
      findings.push(`${bucket} chunks of ${id}: no file document (orphan chunks)`);
    }
  }
  const audioFiles = await media
    .collection<{ _id: ObjectId }>(`${AUDIO_BUCKET}.files`)
    .find({}, { projection: { _id: 1 } })
    .toArray();
  const audioIds = new Set(audioFiles.map((f) => f._id.toHexString()));
  for (const id of audioIds)
    if (!kept.has(id)) findings.push(`MP3 ${id}: no succeeded conversion (orphan file)`);

  const now = Date.now();
  for (const c of conversions) {
    const id = c._id.toHexString();
    // An upload's own conversion begins while the upload still streams (realtime conversion).
    if (!videoRecords.has(c.videoId) && !streaming.has(c.videoId))
      findings.push(`conversion ${id}: its video ${c.videoId} is gone`);
    if (c.status === 'SUCCEEDED' && (!c.audioId || !audioIds.has(c.audioId))) {
      findings.push(`conversion ${id}: SUCCEEDED without its MP3`);
    }
    if (c.status === 'RUNNING' && now - (c.heartbeatAt?.getTime() ?? 0) > options.stuckAfterMs) {
      findings.push(
        `conversion ${id}: RUNNING with no worker heartbeat since ${c.heartbeatAt?.toISOString() ?? 'it began'}`,
      );
    }
    // Set aside by a worker until its upload ends: waiting is right while the upload streams.
    const waitsForUpload = c.awaitingUpload === true && streaming.has(c.videoId);
    if (
      c.status === 'QUEUED' &&
      !c.jobSentAt &&
      !waitsForUpload &&
      now - c.queuedAt.getTime() > options.stuckAfterMs
    ) {
      findings.push(
        c.awaitingUpload
          ? `conversion ${id}: QUEUED waiting for an upload that has ended`
          : `conversion ${id}: QUEUED but its job was never sent`,
      );
    }
  }

  const names = topologyNames(options.amqpNamePrefix);
  const connection = await amqp.connect(options.amqpUrl);
  try {
    const channel = await connection.createChannel();
    for (const queue of [names.queues.jobsDead, names.queues.eventsDead]) {
      const { messageCount } = await channel.checkQueue(queue).catch(() => ({ messageCount: 0 }));
      if (messageCount > 0)
        findings.push(`queue ${queue}: ${messageCount} dead-lettered message(s)`);
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
  return findings;
}
