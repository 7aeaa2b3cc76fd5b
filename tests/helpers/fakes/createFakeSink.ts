import { ObjectId } from 'mongodb';
import type { AudioSink } from '../../../worker/pipeline/types.js';

/** A sink that keeps what it was told: tails begun, MP3s made whole, and discards. */
export interface FakeSink extends AudioSink {
  readonly tails: number;
  readonly finished: string[];
  readonly discarded: number;
  readonly earlierRunsCleared: boolean;
}

export function createFakeSink(): FakeSink {
  const state = { tails: 0, finished: [] as string[], discarded: 0, earlierRunsCleared: false };
  return {
    audioId: new ObjectId(),
    get tails() {
      return state.tails;
    },
    get finished() {
      return state.finished;
    },
    get discarded() {
      return state.discarded;
    },
    get earlierRunsCleared() {
      return state.earlierRunsCleared;
    },
    async clearEarlierRuns() {
      state.earlierRunsCleared = true;
    },
    async tail() {
      state.tails++;
      let done = false;
      return {
        async finish(filename) {
          if (done) throw new Error('finished after it was discarded');
          done = true;
          state.finished.push(filename);
        },
        async discard() {
          if (done) return;
          done = true;
          state.discarded++;
        },
      };
    },
  };
}
