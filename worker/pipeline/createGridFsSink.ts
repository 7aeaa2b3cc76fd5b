import type { Db, ObjectId } from 'mongodb';
import { removeMp3sOf } from '../../lib/stores/audioFiles.js';
import { tailAudioIntoGridFs } from '../tailAudioIntoGridFs.js';
import type { AudioSink } from './types.js';

/** The sink of a real run: the MP3 into media's `audio` bucket, under this run's `audioId`. */
export function createGridFsSink(
  db: Db,
  audioId: ObjectId,
  run: { conversionId: ObjectId; stillOwned: () => Promise<boolean> },
): AudioSink {
  return {
    audioId,
    clearEarlierRuns: () => removeMp3sOf(db, run.conversionId),
    tail: (path) =>
      tailAudioIntoGridFs(db, audioId, path, {
        conversionId: run.conversionId.toHexString(),
        stillOwned: run.stillOwned,
      }),
  };
}
