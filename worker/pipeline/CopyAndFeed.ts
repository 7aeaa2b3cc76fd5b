import { createHash } from 'node:crypto';
import { Transform, type PassThrough, type TransformCallback } from 'node:stream';

/**
 * Passes the video on to the local copy, hashing and counting it, and feeds the same bytes to
 * ffmpeg (`feed`) while ffmpeg reads: when ffmpeg is slower, the copy waits, and so does the
 * read from the store; once ffmpeg has stopped reading, the copy goes on alone.
 */
export class CopyAndFeed extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private digest: string | undefined;

  constructor(
    private feed: PassThrough | undefined,
    /** Told of each piece as it passes (the stall watch). */
    private readonly onPiece: () => void,
  ) {
    super();
  }

  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.onPiece();
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const feed = this.feed;
    if (!feed || feed.destroyed) {
      this.feed = undefined;
      done(null, chunk);
      return;
    }
    if (feed.write(chunk)) {
      done(null, chunk);
      return;
    }
    const resume = () => {
      feed.off('drain', resume);
      feed.off('close', resume);
      done(null, chunk);
    };
    feed.on('drain', resume);
    feed.on('close', resume);
  }

  override _flush(done: TransformCallback): void {
    this.feed?.end();
    done();
  }
}
