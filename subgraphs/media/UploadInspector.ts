import { Transform, type TransformCallback } from 'node:stream';
import type { GraphQLError } from 'graphql';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { SNIFF_BYTES, sniffContainer, type SniffResult } from './sniffContainer.js';

/** What an upload's bytes are hashed with: node's own hash, or a resumable one. */
export interface UploadHash {
  update(data: Buffer): unknown;
}

/**
 * Where an inspection begins: at the upload's first byte (a multipart upload, a new resumable
 * one), or part-way through a resumable upload, whose earlier requests were counted, hashed and
 * perhaps sniffed already.
 */
export interface InspectionStart {
  /** Bytes of the upload before this request. */
  bytes: number;
  /** What the earlier requests sniffed; undefined while they sent fewer than SNIFF_BYTES. */
  sniffed: SniffResult | undefined;
  /** The bytes before this request, when they were too few to sniff: sniffed with the new ones. */
  head: Buffer;
  /** Whether onAccepted was called already. */
  told: boolean;
}

export interface UploadInspectorOptions {
  maxBytes: number;
  overLimit: () => GraphQLError;
  /** Called once the bytes are known to be media and `acceptedAfterBytes` have arrived. */
  onAccepted: (() => void) | undefined;
  acceptedAfterBytes: number;
  /** Hashes what passes; none when the sink hashes what it keeps (a resumable upload). */
  hash?: UploadHash;
  /** @default the upload's first byte */
  start?: InspectionStart;
  /**
   * The upload's whole length, when one request may carry only part of it: a request that ends
   * before SNIFF_BYTES then passes its head on unsniffed, and the next request sniffs it.
   */
  wholeLength?: number;
}

/**
 * Counts an upload's bytes, enforces its limit, and holds back the first bytes until they are
 * sniffed as media, then passes everything through. Shared by the multipart upload
 * (storeUpload) and the resumable one (createTusRoute).
 */
export class UploadInspector extends Transform {
  bytes: number;
  sniffed: SniffResult | undefined;
  failure: Error | undefined;
  private head: Buffer[];
  private headBytes: number;
  private told: boolean;

  constructor(private readonly options: UploadInspectorOptions) {
    super();
    const start = options.start;
    this.bytes = start?.bytes ?? 0;
    this.sniffed = start?.sniffed;
    this.head = start && !start.sniffed && start.head.length > 0 ? [start.head] : [];
    this.headBytes = start && !start.sniffed ? start.head.length : 0;
    this.told = start?.told ?? false;
  }

  /** Tells onAccepted once, when the file is media and long enough. */
  private tellAccepted(): void {
    if (this.told || !this.sniffed || this.bytes < this.options.acceptedAfterBytes) return;
    this.told = true;
    this.options.onAccepted?.();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.options.maxBytes) {
      this.failure = this.options.overLimit();
      done(this.failure);
      return;
    }
    this.options.hash?.update(chunk);
    if (this.sniffed) {
      this.tellAccepted();
      done(null, chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes >= SNIFF_BYTES) this.decide(done);
    else done();
  }

  override _flush(done: TransformCallback): void {
    if (this.sniffed || this.headBytes === 0) done();
    else if (this.options.wholeLength !== undefined && this.bytes < this.options.wholeLength) {
      // Too few bytes yet to tell: they go on to be kept, and are sniffed with the next ones.
      done(null, Buffer.concat(this.head));
    } else this.decide(done);
  }

  private decide(done: TransformCallback): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    const sniffed = sniffContainer(head);
    if (!sniffed) {
      this.failure = graphqlError(
        ErrorCode.UNSUPPORTED_MEDIA,
        'This is not a video or audio file REELFLUX can read (MP4, MOV, MKV, WebM, AVI, MPEG-TS, FLV, 3GP, Ogg, MP3, …)',
      );
      done(this.failure);
      return;
    }
    this.sniffed = sniffed;
    this.tellAccepted();
    done(null, head);
  }
}
