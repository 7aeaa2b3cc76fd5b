import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import amqp from 'amqplib';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { declareTopology, topologyNames } from '../lib/broker/topology.js';
import { UPLOADS_IN_PROGRESS } from '../lib/stores/gridfs.js';
import { checkConsistency } from '../scripts/checkConsistency.js';
import { dropDatabases } from '../scripts/spawnStack.js';
import { uniqueName } from './helpers/uniqueName.js';

describe('checkConsistency (npm run fsck) against the real database and broker', () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('fsck')}_`;
  const mongo = new MongoClient(infra.mongodbUri);
  const owner = new ObjectId().toHexString();
  const check = () =>
    checkConsistency({
      mongo,
      dbPrefix: prefix,
      amqpUrl: infra.amqpUrl,
      amqpNamePrefix: prefix,
      stuckAfterMs: 60_000,
    });
  const media = () => mongo.db(`${prefix}media`);
  const conversions = () => mongo.db(`${prefix}conversion`).collection('conversions');
  const store = (bucket: string, id: ObjectId) =>
    pipeline(
      Readable.from([Buffer.alloc(1000, 1)]),
      new GridFSBucket(media(), { bucketName: bucket }).openUploadStreamWithId(id, 'x'),
    );
  const conversion = (
    id: ObjectId,
    videoId: ObjectId,
    status: string,
    extra: Record<string, unknown> = {},
  ) => ({
    _id: id,
    videoId: videoId.toHexString(),
    owner,
    status,
    audioId: null,
    heartbeatAt: null,
    jobSentAt: new Date(),
    queuedAt: new Date(),
    ...extra,
  });

  beforeAll(async () => {
    const connection = await amqp.connect(infra.amqpUrl);
    await declareTopology(await connection.createChannel(), topologyNames(prefix));
    await connection.close();
    // A consistent start: a video with its file, and its successful conversion with its MP3.
    const video = new ObjectId();
    await store('videos', video);
    await media().collection('videos').insertOne({ _id: video, owner });
    await store('audio', video);
    await conversions().insertOne(
      conversion(video, video, 'SUCCEEDED', { audioId: video.toHexString() }),
    );
  });
  afterAll(async () => {
    const connection = await amqp.connect(infra.amqpUrl);
    const channel = await connection.createChannel();
    for (const queue of Object.values(topologyNames(prefix).queues))
      await channel.deleteQueue(queue);
    await channel.deleteExchange(topologyNames(prefix).exchange);
    await connection.close();
    await dropDatabases(infra.mongodbUri, prefix);
    await mongo.close();
  });

  it('finds nothing in a consistent state', async () => {
    expect(await check()).toEqual([]);
  });

  it('tells a deletion being collected from one that was lost, by looking twice', async () => {
    // A deleted video: its record, file and MP3 are gone, its SUCCEEDED conversion not yet (it
    // goes when video.deleted arrives at the conversion service).
    const deleted = new ObjectId();
    await conversions().insertOne(
      conversion(deleted, deleted, 'SUCCEEDED', { audioId: new ObjectId().toHexString() }),
    );
    const settled = (removeAfterMs?: number) => {
      if (removeAfterMs !== undefined)
        setTimeout(() => void conversions().deleteOne({ _id: deleted }), removeAfterMs);
      return checkConsistency({
        mongo,
        dbPrefix: prefix,
        amqpUrl: infra.amqpUrl,
        amqpNamePrefix: prefix,
        stuckAfterMs: 60_000,
        settleMs: 1_500,
      });
    };
    // Lost: still there at the second look.
    expect(await settled()).toEqual([
      `conversion ${deleted.toHexString()}: its video ${deleted.toHexString()} is gone`,
      `conversion ${deleted.toHexString()}: SUCCEEDED without its MP3`,
    ]);
    // Being collected: gone by the second look, so no finding; a single look would report it.
    expect(await settled(300)).toEqual([]);
    expect(await check()).toEqual([]);
  });

  it('reports each kind of inconsistency', async () => {
    const orphanFile = new ObjectId();
    await store('videos', orphanFile);
    const missingFile = new ObjectId();
    await media().collection('videos').insertOne({ _id: missingFile, owner });
    const orphanChunks = new ObjectId();
    await media()
      .collection('videos.chunks')
      .insertOne({ files_id: orphanChunks, n: 0, data: Buffer.alloc(10) });
    const unannounced = new ObjectId();
    await store('videos', unannounced);
    await media()
      .collection('videos')
      .insertOne({ _id: unannounced, owner, announced: false, uploadedAt: new Date(0) });
    // Marked long ago: an upload or removal that died. Marked just now: still streaming, and
    // its chunks are not orphans.
    const halfDone = new ObjectId();
    await media()
      .collection(UPLOADS_IN_PROGRESS)
      .insertOne({ _id: halfDone, startedAt: new Date(0) });
    const streaming = new ObjectId();
    await media()
      .collection(UPLOADS_IN_PROGRESS)
      .insertOne({ _id: streaming, startedAt: new Date() });
    await media()
      .collection('videos.chunks')
      .insertOne({ files_id: streaming, n: 0, data: Buffer.alloc(10) });
    // Its conversion runs already (realtime), and its worker stores the MP3 chunk by chunk: no
    // finding. MP3 chunks of no running conversion are orphans.
    await conversions().insertOne(
      conversion(streaming, streaming, 'RUNNING', { heartbeatAt: new Date() }),
    );
    await media()
      .collection('audio.chunks')
      .insertOne({
        files_id: new ObjectId(),
        n: 1,
        data: Buffer.alloc(10),
        conversionId: streaming.toHexString(),
      });
    const orphanAudioChunks = new ObjectId();
    await media()
      .collection('audio.chunks')
      .insertOne({ files_id: orphanAudioChunks, n: 1, data: Buffer.alloc(10) });
    const orphanMp3 = new ObjectId();
    await store('audio', orphanMp3);
    const stuck = new ObjectId();
    await conversions().insertOne(
      conversion(stuck, missingFile, 'RUNNING', { heartbeatAt: new Date(Date.now() - 600_000) }),
    );
    const neverSent = new ObjectId();
    await conversions().insertOne(
      conversion(neverSent, missingFile, 'QUEUED', {
        jobSentAt: null,
        queuedAt: new Date(Date.now() - 600_000),
      }),
    );
    const connection = await amqp.connect(infra.amqpUrl);
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(topologyNames(prefix).queues.jobsDead, Buffer.from('{}'));
    await channel.waitForConfirms();
    await connection.close();

    const findings = await check();
    expect(findings).toEqual(
      expect.arrayContaining([
        `video ${missingFile.toHexString()}: record without its file`,
        `video file ${orphanFile.toHexString()}: no record (orphan file)`,
        `videos chunks of ${orphanChunks.toHexString()}: no file document (orphan chunks)`,
        `audio chunks of ${orphanAudioChunks.toHexString()}: no file document (orphan chunks)`,
        `video ${unannounced.toHexString()}: stored but never announced`,
        `MP3 ${orphanMp3.toHexString()}: no succeeded conversion (orphan file)`,
        expect.stringMatching(
          new RegExp(`^conversion ${stuck.toHexString()}: RUNNING with no worker heartbeat`),
        ),
        `conversion ${neverSent.toHexString()}: QUEUED but its job was never sent`,
        `queue ${prefix}conversion.jobs.dead: 1 dead-lettered message(s)`,
        `video file ${halfDone.toHexString()}: an upload or removal left half-done (marked 1970-01-01T00:00:00.000Z)`,
      ]),
    );
    expect(findings).toHaveLength(10);
  });
});
