import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createSHA256, type IHasher } from 'hash-wasm';
import { Binary, MongoError, ObjectId, type Db } from 'mongodb';
import type { Broker } from '../../lib/broker/createBroker.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { resumableUploadBody, type InternalHop } from '../../lib/server/createInternalHop.js';
import { authenticateHeader, type TokenVerifier } from '../../lib/server/createTokenVerifier.js';
import { closeAfterAnswer, sendError, type Route } from '../../lib/server/http.js';
import type { Logger } from '../../lib/platform/logger.js';
import { spendOrRefuse, type RateWindows } from '../../lib/stores/createRateWindows.js';
import type { StorageQuota } from '../../lib/stores/storageQuota.js';
import {
  ResumableChunkWriter,
  completeResumableUploadFile,
  openResumableUploadFile,
} from '../../lib/stores/uploadFiles.js';
import { cleanFilename } from './cleanFilename.js';
import type { VideoStore } from './createVideoStore.js';
import type { ResumableUpload, ResumableUploads } from './createResumableUploads.js';
import { discardResumableUpload } from './discardResumableUpload.js';
import {
  TUS_CHECKSUM_ALGORITHMS,
  TUS_EXTENSIONS,
  TUS_VERSION,
  TusRefusal,
  expectTusVersion,
  readTusCreation,
  readTusPatch,
  type TusPatch,
} from './readTusHeaders.js';
import { createUploadAnnouncer, recordUpload } from './recordUpload.js';
import { overStorageQuota } from './resolvers.js';
import { translate } from './storeUpload.js';
import { UploadInspector } from './UploadInspector.js';

export interface TusDeps {
  db: Db;
  uploads: ResumableUploads;
  store: VideoStore;
  broker: Broker;
  quota: StorageQuota;
  rates: RateWindows;
  uploadsPerMinute: number;
  verifyToken: TokenVerifier;
  hop: InternalHop;
  log: Logger;
  maxUploadBytes: number;
  realtimeMinBytes: number;
  /** RESUMABLE_UPLOAD_EXPIRY_SECONDS: how long an unfinished upload is kept. */
  expiryMs: number;
  uploadTimeoutMs: number;
}

/** How often a request taking bytes saves its progress and renews its lease. */
const CHECKPOINT_EVERY_MS = 1_000;

const refuse = (code: ErrorCode, message: string) => new TusRefusal(code, message);

/**
 * Resumable uploads on tus 1.0.0 (core, creation, creation-with-upload, expiration,
 * termination, checksum) at `/uploads/`, which the router relays here signed. The upload's
 * state lives in the database (createResumableUploads), so its next request may reach any
 * replica; its bytes go into the video bucket as they come, in whole chunks, so a worker follows
 * it as it follows a multipart upload. The last byte makes it a video exactly as uploadVideo
 * does (recordUpload); its id is the video's.
 */
export function createTusRoute(deps: TusDeps): Route {
  return {
    methods: ['OPTIONS', 'POST', 'HEAD', 'PATCH', 'DELETE'],
    path: '/uploads/*',
    async handler(req, res) {
      res.setHeader('tus-resumable', TUS_VERSION);
      res.setHeader('cache-control', 'no-store');
      try {
        if (!deps.hop.isRecent(req) || !deps.hop.verify(req, resumableUploadBody(req.headers))) {
          throw refuse(ErrorCode.FORBIDDEN, 'This service answers the router only');
        }
        await serve(deps, req, res);
      } catch (error) {
        answerError(req, res, error);
      }
    },
  };
}

async function serve(deps: TusDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const id = /^\/uploads\/([0-9a-f]{24})$/.exec(path)?.[1];
  if (req.method === 'OPTIONS') {
    res
      .writeHead(204, {
        'tus-version': TUS_VERSION,
        'tus-extension': TUS_EXTENSIONS.join(','),
        'tus-max-size': String(deps.maxUploadBytes),
        'tus-checksum-algorithm': TUS_CHECKSUM_ALGORITHMS.join(','),
      })
      .end();
    return;
  }
  expectTusVersion(req.headers);
  const owner = await authenticate(deps, req);
  if (path === '/uploads/' || path === '/uploads') {
    if (req.method !== 'POST') throw refuse(ErrorCode.METHOD_NOT_ALLOWED, 'Create with POST');
    return create(deps, req, res, owner);
  }
  if (id === undefined || req.method === 'POST') {
    throw refuse(ErrorCode.NOT_FOUND, 'No such upload');
  }
  const upload = await deps.uploads.findOwned(id, owner);
  // Another user's upload does not exist for this one.
  if (!upload) throw refuse(ErrorCode.NOT_FOUND, 'No such upload');
  if (req.method === 'DELETE') {
    if (!upload.completed && upload.expiresAt > new Date()) {
      // Taken as a PATCH takes it, so that no PATCH begins writing chunks while it goes.
      const claim = await deps.uploads.claim(upload._id, owner, upload.offset);
      if ('refused' in claim && (claim.refused === 'locked' || claim.refused === 'offset')) {
        throw refuse(ErrorCode.UPLOAD_LOCKED, 'The upload is taking bytes; terminate it after');
      }
    }
    await discardResumableUpload(deps, upload);
    res.writeHead(204).end();
    return;
  }
  if (!upload.completed && upload.expiresAt <= new Date()) {
    throw refuse(ErrorCode.UPLOAD_EXPIRED, 'The upload expired; create a new one');
  }
  if (req.method === 'HEAD') {
    res
      .writeHead(200, {
        'upload-offset': String(upload.completed ? upload.length : upload.offset),
        'upload-length': String(upload.length),
        'upload-expires': upload.expiresAt.toUTCString(),
        ...(upload.metadata ? { 'upload-metadata': upload.metadata } : {}),
      })
      .end();
    return;
  }
  const patch = readTusPatch(req.headers);
  const offset = await receive(deps, req, upload._id, owner, patch);
  res
    .writeHead(204, {
      'upload-offset': String(offset),
      'upload-expires': upload.expiresAt.toUTCString(),
    })
    .end();
}

async function authenticate(deps: TusDeps, req: IncomingMessage): Promise<string> {
  const verified = await authenticateHeader(deps.verifyToken, req.headers.authorization).catch(
    () => undefined,
  );
  if (!verified) {
    throw refuse(ErrorCode.UNAUTHENTICATED, 'Send Authorization: Bearer <token>');
  }
  return verified.userId;
}

/** POST: a new upload, its length judged against the size limit and the owner's room. */
async function create(
  deps: TusDeps,
  req: IncomingMessage,
  res: ServerResponse,
  owner: string,
): Promise<void> {
  const creation = readTusCreation(req.headers);
  if (creation.length > deps.maxUploadBytes) {
    throw refuse(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `The file is larger than the ${deps.maxUploadBytes}-byte limit`,
    );
  }
  if (creation.length === 0) throw refuse(ErrorCode.UNSUPPORTED_MEDIA, 'The file is empty');
  const withUpload = req.headers['content-type'] !== undefined;
  const patch = withUpload ? readTusPatch(req.headers, 0) : undefined;
  await spendOrRefuse(
    deps.rates,
    `uploads:${owner}`,
    { max: deps.uploadsPerMinute, windowSeconds: 60 },
    'uploads',
  );
  const { quota } = deps;
  const id = new ObjectId();
  const key = `upload:${id.toHexString()}` as const;
  // The upload holds its whole length until it is a video (then its record counts it) or goes.
  const ttl = deps.expiryMs + 2 * deps.uploadTimeoutMs;
  if (!(await quota.reserve(key, owner, creation.length, ttl))) {
    throw overStorageQuota(quota.maxBytes);
  }
  const now = new Date();
  const expiresAt = new Date(now.getTime() + deps.expiryMs);
  try {
    await openResumableUploadFile(deps.db, id, owner, expiresAt);
    await deps.uploads.create({
      _id: id,
      owner,
      length: creation.length,
      offset: 0,
      tail: new Binary(Buffer.alloc(0)),
      hashState: new Binary((await freshHasher()).save()),
      uploadingSent: false,
      completed: false,
      filename: cleanFilename(creation.filename),
      mp3: creation.mp3,
      metadata: creation.metadata,
      createdAt: now,
      expiresAt,
    });
  } catch (error) {
    await quota.release(key).catch(() => undefined);
    throw error;
  }
  const headers = {
    location: `/uploads/${id.toHexString()}`,
    'upload-expires': expiresAt.toUTCString(),
  };
  res.setHeader('location', headers.location);
  res.setHeader('upload-expires', headers['upload-expires']);
  const offset = patch ? await receive(deps, req, id, owner, patch) : 0;
  res.writeHead(201, { ...headers, 'upload-offset': String(offset) }).end();
}

async function freshHasher(): Promise<IHasher> {
  const hasher = await createSHA256();
  hasher.init();
  return hasher;
}

/**
 * Takes one request's bytes at `patch.offset`: claims the upload (one request at a time, across
 * replicas), streams the body into the bucket with a checkpoint each second, saves where it
 * stopped however it stopped, and makes the upload a video once its last byte is in. Resolves
 * with the offset reached.
 */
async function receive(
  deps: TusDeps,
  req: IncomingMessage,
  id: ObjectId,
  owner: string,
  patch: TusPatch,
): Promise<number> {
  const claim = await deps.uploads.claim(id, owner, patch.offset);
  if ('refused' in claim) {
    // A finished upload answers its whole length to a client that missed the last answer.
    if (claim.refused === 'completed' && claim.length === patch.offset) return patch.offset;
    throw claimRefusal(claim.refused === 'completed' ? 'offset' : claim.refused);
  }
  const { holder, upload } = claim;
  if (patch.bytes !== undefined && patch.offset + patch.bytes > upload.length) {
    await deps.uploads.release(id, holder);
    throw refuse(ErrorCode.PAYLOAD_TOO_LARGE, 'The body runs past Upload-Length');
  }
  const sniffedBefore = upload.sniffed;
  // Before the sniff every byte is in the tail: it is sniffed again with the new ones, and hashed
  // again from the start, so the writer begins at the file's start.
  const hasher = await freshHasher();
  if (sniffedBefore) hasher.load(upload.hashState.buffer);
  const tail = Buffer.from(upload.tail.buffer);
  const writer = new ResumableChunkWriter(
    deps.db,
    id,
    sniffedBefore ? { offset: upload.offset, tail } : { offset: 0, tail: Buffer.alloc(0) },
    hasher,
  );
  const announcer = createUploadAnnouncer(deps.broker, deps.log, {
    videoId: id.toHexString(),
    owner,
    filename: upload.filename,
    mp3: upload.mp3,
  });
  const inspector = new UploadInspector({
    maxBytes: upload.length,
    overLimit: () => graphqlError(ErrorCode.PAYLOAD_TOO_LARGE, 'The body runs past Upload-Length'),
    acceptedAfterBytes: deps.realtimeMinBytes,
    onAccepted: () =>
      void announcer
        .uploading()
        .then(() => deps.uploads.markUploadingSent(id))
        .catch(() => undefined),
    start: { bytes: upload.offset, sniffed: sniffedBefore, head: tail, told: upload.uploadingSent },
    wholeLength: upload.length,
  });
  const save = () =>
    deps.uploads.checkpoint(id, holder, {
      offset: writer.offset,
      tail: writer.pending,
      hashState: writer.hashState(),
      sniffed: inspector.sniffed,
    });
  const failure = await streamWithCheckpoints(req, patch, inspector, writer, save);
  await writer.settled();
  if (failure?.code === ErrorCode.CHECKSUM_MISMATCH) {
    // The request's bytes are taken back whole: the upload stands where it stood before it.
    await deps.uploads.checkpoint(id, holder, {
      offset: upload.offset,
      tail,
      hashState: upload.hashState.buffer,
      sniffed: sniffedBefore,
    });
  } else if (failure?.code === ErrorCode.UNSUPPORTED_MEDIA) {
    // Not media: nothing of it is kept, as for a multipart upload.
    await discardResumableUpload(deps, { ...upload, uploadingSent: true });
    throw failure;
  } else if (!(await save())) {
    throw refuse(ErrorCode.UPLOAD_LOCKED, 'Another request took this upload over');
  }
  if (failure) {
    await deps.uploads.release(id, holder);
    throw failure;
  }
  if (writer.offset < upload.length) {
    await deps.uploads.release(id, holder);
    return writer.offset;
  }
  await finish(deps, upload, writer, hasher, inspector, announcer.started);
  return upload.length;
}

/**
 * Pipes the body through the inspector into the writer, saving progress each second (a lost
 * lease ends the request). Resolves with what went wrong, as a refusal, or undefined.
 */
async function streamWithCheckpoints(
  req: IncomingMessage,
  patch: TusPatch,
  inspector: UploadInspector,
  writer: ResumableChunkWriter,
  save: () => Promise<boolean>,
): Promise<TusRefusal | undefined> {
  let saving: Promise<unknown> = Promise.resolve();
  let lost = false;
  const timer = setInterval(() => {
    saving = saving.then(save).then(
      (kept) => {
        if (kept || lost) return;
        lost = true;
        req.destroy();
      },
      () => undefined,
    );
  }, CHECKPOINT_EVERY_MS);
  const checksum = patch.checksum ? createHash(patch.checksum.algorithm) : undefined;
  let failure: TusRefusal | undefined;
  try {
    if (checksum) {
      const check = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          checksum.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(req, check, inspector, writer);
    } else await pipeline(req, inspector, writer);
    if (checksum && checksum.digest('base64') !== patch.checksum?.digest) {
      failure = refuse(ErrorCode.CHECKSUM_MISMATCH, 'The bytes do not match Upload-Checksum');
    }
  } catch (error) {
    const reason = lost ? undefined : (inspector.failure ?? translate(error, () => tooFar()));
    failure =
      reason instanceof TusRefusal
        ? reason
        : codeOf(reason) !== undefined
          ? refuse(codeOf(reason) as ErrorCode, (reason as Error).message)
          : // The whole body arrived, or the store failed: the bytes could not be kept, which a
            // client resumes from (503), unlike a request cut short (400).
            req.complete || error instanceof MongoError
            ? refuse(ErrorCode.SERVICE_UNAVAILABLE, 'The bytes could not be stored; resume')
            : refuse(ErrorCode.BAD_REQUEST, 'The request ended before its body did');
    if (lost) failure = refuse(ErrorCode.UPLOAD_LOCKED, 'Another request took this upload over');
  } finally {
    clearInterval(timer);
    await saving;
  }
  return failure;
}

const tooFar = () => graphqlError(ErrorCode.PAYLOAD_TOO_LARGE, 'The body runs past Upload-Length');

/** The last byte is in: the last chunk, the file document, then the video as uploadVideo makes it. */
async function finish(
  deps: TusDeps,
  upload: ResumableUpload,
  writer: ResumableChunkWriter,
  hasher: IHasher,
  inspector: UploadInspector,
  uploadingSent: boolean,
): Promise<void> {
  const sniffed = inspector.sniffed;
  if (!sniffed) throw refuse(ErrorCode.UNSUPPORTED_MEDIA, 'The file could not be sniffed');
  try {
    await writer.finish();
    await completeResumableUploadFile(deps.db, upload._id, {
      length: upload.length,
      filename: upload.filename,
      owner: upload.owner,
    });
    await recordUpload(deps, deps.log, {
      videoId: upload._id.toHexString(),
      owner: upload.owner,
      filename: upload.filename,
      mp3: upload.mp3,
      stored: {
        fileId: upload._id,
        bytes: upload.length,
        sha256: hasher.digest('hex'),
        contentType: sniffed.contentType,
      },
      reservation: `upload:${upload._id.toHexString()}`,
      uploadingSent: uploadingSent || upload.uploadingSent,
    });
  } catch (error) {
    // recordUpload took the video back: the upload goes with it.
    await discardResumableUpload(deps, { ...upload, uploadingSent: true }).catch(() => undefined);
    throw error;
  }
  await deps.uploads.markCompleted(upload._id);
}

function claimRefusal(reason: 'missing' | 'expired' | 'offset' | 'locked'): TusRefusal {
  switch (reason) {
    case 'missing':
      return refuse(ErrorCode.NOT_FOUND, 'No such upload');
    case 'expired':
      return refuse(ErrorCode.UPLOAD_EXPIRED, 'The upload expired; create a new one');
    case 'offset':
      return refuse(
        ErrorCode.OFFSET_MISMATCH,
        'Upload-Offset is not where the upload stands; ask with HEAD',
      );
    case 'locked':
      return refuse(ErrorCode.UPLOAD_LOCKED, 'Another request is sending bytes to this upload');
  }
}

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
};

/** Answers a refusal or a coded error with its status; anything else is the dispatcher's 500. */
function answerError(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  const code = error instanceof TusRefusal ? error.code : codeOf(error);
  if (code === undefined) throw error;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.complete) closeAfterAnswer(req, res);
  const retryAfter = (error as { extensions?: { retryAfterSeconds?: number } }).extensions
    ?.retryAfterSeconds;
  const headers: Record<string, string> = {};
  if (code === ErrorCode.TUS_VERSION_UNSUPPORTED) headers['tus-version'] = TUS_VERSION;
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  sendError(res, code as ErrorCode, (error as Error).message, headers);
}
