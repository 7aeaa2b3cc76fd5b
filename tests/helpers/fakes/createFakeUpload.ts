import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectId } from 'mongodb';
import type { VideoSource } from '../../../worker/pipeline/types.js';

/** An upload played by hand: bytes arrive when told, and it ends when told. */
export interface FakeUpload extends VideoSource {
  arrive(bytes: Buffer): void;
  end(): void;
  /** Readers that stopped early (their signal aborted). */
  readonly readsAborted: number;
}

/** A source whose upload streams (`streaming`) or had ended when the job began. */
export function createFakeUpload(first: Buffer, options: { streaming: boolean }): FakeUpload {
  const pieces = [first];
  let ended = !options.streaming;
  let readsAborted = 0;
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const notify = () => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };
  const whole = () => Buffer.concat(pieces);
  return {
    get readsAborted() {
      return readsAborted;
    },
    arrive(bytes) {
      pieces.push(bytes);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
    async state() {
      if (!ended) return { kind: 'streaming' };
      return {
        kind: 'complete',
        file: { _id: new ObjectId(), length: whole().length, chunkSize: 1 },
      };
    },
    read(signal) {
      async function* generate() {
        for (let n = 0; ; n++) {
          while (n >= pieces.length && !ended) {
            if (signal.aborted) {
              readsAborted++;
              throw signal.reason;
            }
            const aborted = new Promise<void>((resolve) =>
              signal.addEventListener('abort', () => resolve(), { once: true }),
            );
            await Promise.race([changed, aborted]);
            if (signal.aborted) {
              readsAborted++;
              throw signal.reason;
            }
          }
          const piece = pieces[n];
          if (!piece) return;
          yield piece;
        }
      }
      return Readable.from(generate(), { objectMode: false });
    },
    async expectAnnounced(read) {
      const stored = whole();
      if (read.bytes !== stored.length) throw new Error('converted bytes differ in length');
      if (read.sha256() !== createHash('sha256').update(stored).digest('hex')) {
        throw new Error('converted bytes differ');
      }
    },
  };
}
