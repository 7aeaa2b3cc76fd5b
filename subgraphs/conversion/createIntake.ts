import { ObjectId } from 'mongodb';
import { Counter, type Registry } from 'prom-client';
import type { Broker } from '../../lib/broker/createBroker.js';
import type { ConversionEngine } from '../../lib/conversions/createConversionEngine.js';
import { eventConsumer } from '../../lib/broker/eventConsumer.js';
import {
  parseUploadEvent,
  parseVideoDeleted,
  type VideoUploaded,
  type VideoUploading,
} from '../../lib/contracts/messages.js';
import type { Logger } from '../../lib/platform/logger.js';
import type { VideoProjections } from './createVideoProjections.js';

/** Media's video events, as the conversion service takes them in. */
export interface Intake {
  onUploadEvent(event: VideoUploading | VideoUploaded): Promise<void>;
  onVideoDeleted(videoId: string): Promise<void>;
  /** Starts consuming both event queues. */
  start(): void;
}

/**
 * Turns media's upload events into the upload's own conversion (idempotently), and
 * video.deleted into a tombstone and the end of the video's conversions. An upload event that
 * names another owner than the video has is dropped and counted
 * (`conversion_forged_events_total`): media never sends one.
 */
export function createIntake(deps: {
  engine: ConversionEngine;
  videos: VideoProjections;
  broker: Broker;
  /** The owner's turn, taken once a conversion is made. */
  dispatchFor: (owner: string) => Promise<void>;
  log: Logger;
  /** Where the dropped-forgery counter goes (the process's /metrics). */
  registry: Registry;
}): Intake {
  const { engine, videos, broker, log } = deps;
  const forgedEvents = new Counter({
    name: 'conversion_forged_events_total',
    help: 'Upload events dropped because they named another owner than the video has',
    labelNames: ['type'] as const,
    registers: [deps.registry],
  });

  /**
   * The upload's own conversion is made on the first of its two events: `video.uploading`
   * (the upload has begun, so a worker can convert it as it arrives) or, if that one was lost,
   * `video.uploaded`. A worker accepts the MP3 only once media has stored and announced the
   * upload, and an upload that fails is followed by `video.deleted`, which removes it.
   */
  const onUploadEvent = async (event: VideoUploading | VideoUploaded) => {
    const video = { _id: event.videoId, owner: event.ownerId, filename: event.filename };
    const known = await videos.remember(video);
    if (known === 'deleted') return;
    if (known.owner !== video.owner) {
      // Media never sends this: whoever can publish to the exchange is trying to take the video.
      forgedEvents.inc({ type: event.type });
      log.warn(
        { videoId: video._id, owner: known.owner, claimed: video.owner, type: event.type },
        'upload event naming another owner dropped',
      );
      return;
    }
    // The upload's own conversion shares the video's id: a redelivered event cannot add one.
    await engine.create({
      id: new ObjectId(event.videoId),
      videoId: video._id,
      owner: video.owner,
      filename: video.filename,
      options: event.mp3,
    });
    // Conversions a worker set aside while the upload streamed too slowly may run now.
    if (event.type === 'video.uploaded') await engine.uploadEnded(event.videoId);
    await deps.dispatchFor(video.owner);
  };

  /**
   * Deletion sets the tombstone before it removes conversions; a dispatch looks for the
   * tombstone before it sends a job. Whichever runs second sees what the first did, so no
   * conversion outlives its video.
   */
  const onVideoDeleted = async (videoId: string) => {
    await videos.markDeleted(videoId);
    await engine.forgetVideo(videoId);
  };

  return {
    onUploadEvent,
    onVideoDeleted,
    start() {
      const { queues } = broker.topology;
      broker.consume(queues.videoUploaded, 8, eventConsumer(parseUploadEvent, onUploadEvent, log));
      broker.consume(
        queues.videoDeleted,
        8,
        eventConsumer(parseVideoDeleted, (event) => onVideoDeleted(event.videoId), log),
      );
    },
  };
}
