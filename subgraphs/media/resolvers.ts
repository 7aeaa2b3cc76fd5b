import type { FileUpload } from 'graphql-upload-minimal';
import { GraphQLUpload } from 'graphql-upload-minimal';
import { ObjectId, type Db } from 'mongodb';
import { DateTimeScalar } from '../../lib/contracts/DateTimeScalar.js';
import type { Broker } from '../../lib/broker/createBroker.js';
import { retryLaterIfBrokerDown } from '../../lib/broker/retryLaterIfBrokerDown.js';
import {
  requireUser,
  type SubgraphContext,
  type SubgraphResolvers,
} from '../../lib/server/createSubgraphServer.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { parseMp3Options, type Mp3Options } from '../../lib/contracts/mp3Options.js';
import type { GraphQLError } from 'graphql';
import type { ReservationKey, StorageQuota } from '../../lib/stores/storageQuota.js';
import { readPageSize } from '../../lib/contracts/pagination.js';
import { spendOrRefuse, type RateWindows } from '../../lib/stores/createRateWindows.js';
import type { MediaQuotas } from './config.js';
import type { DownloadTokens } from '../../lib/platform/createDownloadTokens.js';
import type { AudioFile } from '../../lib/stores/audioFiles.js';
import { AUDIO_BUCKET } from '../../lib/stores/gridfs.js';
import type { VideoRecord, VideoStore } from './createVideoStore.js';
import { cleanFilename } from './cleanFilename.js';
import { storeUpload } from './storeUpload.js';
import { createUploadAnnouncer, recordUpload } from './recordUpload.js';

export interface MediaDeps {
  db: Db;
  store: VideoStore;
  broker: Broker;
  downloads: DownloadTokens;
  maxUploadBytes: number;
  /** See MediaConfig.realtimeMinBytes. */
  realtimeMinBytes: number;
  quotas: MediaQuotas;
  /** MAX_STORED_BYTES_PER_USER, with what is stored and held. */
  quota: StorageQuota;
  /** See MediaConfig.uploadTimeoutMs: how long an upload's room is held at most. */
  uploadTimeoutMs: number;
  rates: RateWindows;
}

/** The refusal of an upload that would take its owner past MAX_STORED_BYTES_PER_USER. */
export const overStorageQuota = (maxBytes: number) =>
  graphqlError(
    ErrorCode.QUOTA_EXCEEDED,
    `This upload would take your storage past its ${maxBytes} bytes; delete videos to make room`,
    { reason: 'STORED_BYTES', limit: maxBytes },
  );

const notFound = (what: string) => graphqlError(ErrorCode.NOT_FOUND, `${what} not found`);

export function createResolvers(deps: MediaDeps): SubgraphResolvers {
  const { store, broker, quotas, quota, rates } = deps;
  const perMinute = (max: number) => ({ max, windowSeconds: 60 });

  return {
    DateTime: DateTimeScalar,
    Upload: GraphQLUpload,
    Query: {
      video: async (_: unknown, args: { id: string }, ctx) =>
        (await store.findOwned(args.id, requireUser(ctx))) ?? Promise.reject(notFound('Video')),
      videos: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx) => {
        const first = readPageSize(args.first);
        const page = await store.page(requireUser(ctx), first, args.after ?? undefined);
        const edges = page.videos.map((node) => ({ cursor: node._id.toHexString(), node }));
        return {
          edges,
          pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
        };
      },
    },
    Mutation: {
      uploadVideo: async (_: unknown, args: { file: Promise<FileUpload>; mp3?: unknown }, ctx) => {
        const owner = requireUser(ctx);
        // Refuse bad options, and what is over the owner's rate or room, before a byte is stored.
        const mp3 = parseMp3Options(args.mp3);
        await spendOrRefuse(
          rates,
          `uploads:${owner}`,
          perMinute(quotas.uploadsPerMinute),
          'uploads',
        );
        const room = quota.maxBytes - (await quota.bytesUsed(owner));
        const overQuota = () => overStorageQuota(quota.maxBytes);
        if (room <= 0) throw overQuota();
        const fileId = new ObjectId();
        // While it streams, the upload holds the room it could fill (at most the client's whole
        // request, as the router measured it), so parallel uploads cannot together pass the
        // quota; once stored, its record counts its bytes instead.
        const hold = Math.min(deps.maxUploadBytes, room, ctx.clientRequestBytes ?? Infinity);
        const key = `upload:${fileId.toHexString()}` as const;
        if (!(await quota.reserve(key, owner, hold, 2 * deps.uploadTimeoutMs))) throw overQuota();
        try {
          return await receiveUpload(deps, ctx, {
            owner,
            mp3,
            file: args.file,
            fileId,
            maxBytes: hold,
            reservation: key,
            ...(room < deps.maxUploadBytes ? { overLimit: overQuota } : {}),
          });
        } finally {
          await quota.release(key).catch(() => undefined);
        }
      },
      deleteVideo: async (_: unknown, args: { id: string }, ctx) => {
        const owner = requireUser(ctx);
        await spendOrRefuse(
          rates,
          `mutations:${owner}`,
          perMinute(quotas.mutationsPerMinute),
          'requests',
        );
        const record = await store.findOwned(args.id, owner);
        if (!record) throw notFound('Video');
        // The stored id, in its one spelling: consumers match events on it exactly.
        const videoId = record._id.toHexString();
        // Announce first: if removal fails halfway, the record is still there to retry with,
        // and every consumer of video.deleted cleans up idempotently.
        await retryLaterIfBrokerDown(
          broker.publishEvent({ type: 'video.deleted', version: 1, videoId, ownerId: owner }),
          'The video could not be deleted now; try again shortly',
        );
        await store.remove(record);
        return true;
      },
    },
    Video: {
      id: (video: VideoRecord) => video._id.toHexString(),
      owner: (video: VideoRecord) => ({ __typename: 'User', id: video.owner }),
      __resolveReference: (ref: { id: string }, ctx: SubgraphContext) =>
        ctx.userId ? store.findOwned(ref.id, ctx.userId) : null,
    },
    Audio: {
      id: (audio: AudioFile) => audio._id.toHexString(),
      bytes: (audio: AudioFile) => audio.length,
      durationSeconds: (audio: AudioFile) => audio.metadata.durationSeconds,
      bitrateKbps: (audio: AudioFile) => audio.metadata.bitrateKbps,
      loudness: (audio: AudioFile) => audio.metadata.loudness ?? null,
      chapters: (audio: AudioFile) => audio.metadata.chapters ?? [],
      downloadUrl: async (audio: AudioFile) => {
        const link = await deps.downloads.link(AUDIO_BUCKET, audio._id.toHexString());
        return link.url;
      },
      __resolveReference: (ref: { id: string }, ctx: SubgraphContext) =>
        ctx.userId ? store.findAudioOwned(ref.id, ctx.userId) : null,
    },
  };
}

/** Stores one upload within `maxBytes`, records and announces it; the caller holds its room. */
async function receiveUpload(
  deps: MediaDeps,
  ctx: SubgraphContext,
  options: {
    owner: string;
    mp3: Mp3Options;
    file: Promise<FileUpload>;
    fileId: ObjectId;
    maxBytes: number;
    overLimit?: () => GraphQLError;
    /** The room the upload holds while it streams, released once its record counts it. */
    reservation: ReservationKey;
  },
): Promise<VideoRecord> {
  const { owner, mp3, fileId } = options;
  const upload = await options.file;
  const facts = {
    videoId: fileId.toHexString(),
    owner,
    filename: cleanFilename(upload.filename),
    mp3,
  };
  // Realtime conversion: the conversion begins while the file still streams in.
  const announcer = createUploadAnnouncer(deps.broker, ctx.log, facts);
  const stored = await storeUpload(deps.db, upload.createReadStream(), {
    fileId,
    filename: facts.filename,
    ownerId: owner,
    maxBytes: options.maxBytes,
    ...(options.overLimit ? { overLimit: options.overLimit } : {}),
    acceptedAfterBytes: deps.realtimeMinBytes,
    onAccepted: () => void announcer.uploading(),
    onFailedAfterAccepted: () => announcer.withdraw(),
  });
  return recordUpload(deps, ctx.log, {
    ...facts,
    stored,
    reservation: options.reservation,
    uploadingSent: announcer.started,
  });
}
