import type { Broker } from '../../lib/broker/createBroker.js';
import type { VideoRecord, VideoStore } from './createVideoStore.js';

/**
 * Takes back an upload the client was told failed: announces its deletion when its upload may
 * have been announced (video.uploading or video.uploaded, so conversion drops what it started),
 * then removes its file and record. With the broker away, the removal still happens and the
 * announcement is left to the janitor (through the removal's marker). Safe to repeat; the
 * janitor repeats it for what a failure left behind.
 */
export async function withdrawVideo(
  deps: { store: VideoStore; broker: Broker },
  record: VideoRecord,
  mayHaveBeenAnnounced: boolean,
): Promise<void> {
  const told =
    !mayHaveBeenAnnounced ||
    (await deps.broker
      .publishEvent({
        type: 'video.deleted',
        version: 1,
        videoId: record._id.toHexString(),
        ownerId: record.owner,
      })
      .then(
        () => true,
        () => false,
      ));
  await deps.store.remove(record, { announceLater: !told });
}
