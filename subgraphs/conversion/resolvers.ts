import { DateTimeScalar } from '../../lib/contracts/DateTimeScalar.js';
import { retryLaterIfBrokerDown } from '../../lib/broker/retryLaterIfBrokerDown.js';
import {
  requireUser,
  type SubgraphContext,
  type SubgraphResolvers,
} from '../../lib/server/createSubgraphServer.js';
import type {
  ConversionEngine,
  ConversionRecord,
} from '../../lib/conversions/createConversionEngine.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { effectiveMp3Options, type Mp3Options } from '../../lib/contracts/mp3Options.js';
import { readPageSize } from '../../lib/contracts/pagination.js';
import type { ConversionService } from './createConversionService.js';

/** A queue that cannot take the job is an outage the client should retry, not a bug. */
const queued = <T>(work: Promise<T>): Promise<T> =>
  retryLaterIfBrokerDown(work, 'The conversion could not be queued; try again shortly');

/** How many of a video's newest conversions are looked through for its audio streams. */
const AUDIO_STREAM_LOOKBACK = 20;

export function createResolvers(deps: {
  engine: ConversionEngine;
  service: ConversionService;
}): SubgraphResolvers {
  const { engine, service } = deps;
  return {
    DateTime: DateTimeScalar,
    Query: {
      conversion: async (_: unknown, args: { id: string }, ctx) =>
        (await engine.findOwned(args.id, requireUser(ctx))) ??
        Promise.reject(graphqlError(ErrorCode.NOT_FOUND, 'Conversion not found')),
    },
    Mutation: {
      convertVideo: (_: unknown, args: { videoId: string; mp3?: unknown }, ctx) =>
        // Video ids are stored and matched in lower case; ObjectIds read either.
        queued(service.convertVideo(requireUser(ctx), args.videoId.toLowerCase(), args.mp3)),
      cancelConversion: (_: unknown, args: { id: string }, ctx) =>
        queued(service.cancel(requireUser(ctx), args.id)),
    },
    Conversion: {
      id: (record: ConversionRecord) => record._id.toHexString(),
      video: (record: ConversionRecord) => ({ __typename: 'Video', id: record.videoId }),
      audio: (record: ConversionRecord) =>
        record.audioId ? { __typename: 'Audio', id: record.audioId } : null,
      options: (record: ConversionRecord) => effectiveMp3Options(record.options, record.filename),
      __resolveReference: (ref: { id: string }, ctx: SubgraphContext) =>
        ctx.userId ? engine.findOwned(ref.id, ctx.userId) : null,
    },
    Mp3Settings: {
      chapters: (settings: Mp3Options) => settings.chapters ?? true,
    },
    Video: {
      // Ownership is checked per field: another user's video simply has no conversions here.
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      conversions: async (
        video: { id: string },
        args: { first?: number | null; after?: string | null },
        ctx: SubgraphContext,
      ) => {
        const first = readPageSize(args.first);
        const page = ctx.userId
          ? await engine.pageForVideo(video.id, ctx.userId, first, args.after ?? undefined)
          : { records: [], hasNextPage: false };
        const edges = page.records.map((node) => ({ cursor: engine.cursor(node), node }));
        return {
          edges,
          pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
        };
      },
      audioStreams: async (video: { id: string }, _: unknown, ctx: SubgraphContext) => {
        if (!ctx.userId) return null;
        // Each run records what it probed; the newest that did speaks for the video.
        const { records } = await engine.pageForVideo(video.id, ctx.userId, AUDIO_STREAM_LOOKBACK);
        return records.find((record) => record.audioStreams)?.audioStreams ?? null;
      },
      latestConversion: async (video: { id: string }, _: unknown, ctx: SubgraphContext) =>
        ctx.userId
          ? ((await engine.pageForVideo(video.id, ctx.userId, 1)).records[0] ?? null)
          : null,
    },
  };
}
