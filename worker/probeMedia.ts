import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AudioStreamInfo } from '../lib/contracts/audioReport.js';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { BadInputError } from './BadInputError.js';

/**
 * Demuxers ffprobe and ffmpeg may use, passed as `-format_whitelist`: the containers phones,
 * cameras and browsers make, and plain audio. Never hls, concat, image2, or anything else that
 * opens other files or URLs.
 */
export const ALLOWED_DEMUXERS = [
  'mov',
  'matroska',
  'webm',
  'avi',
  'mpegts',
  'mpeg',
  'flv',
  'ogg',
  'asf',
  'mp3',
  'aac',
  'flac',
  'wav',
] as const;

/** A chapter of the source, in its own time. */
export interface SourceChapter {
  title: string;
  startSeconds: number;
  endSeconds: number;
}

export interface ProbeResult {
  /** The demuxer to force for ffmpeg: the first of ffprobe's names that is allowed. */
  demuxer: string;
  durationSeconds: number;
  /** The first audio stream (ffmpeg's default choice). */
  audio: { codec: string; channels: number; sampleRateHz: number } | null;
  /** Every audio stream, in order, with its sample rate. */
  audioStreams: (AudioStreamInfo & { sampleRateHz: number })[];
  chapters: SourceChapter[];
  /** Overall bitrate, for the MP3 we made. */
  bitRate: number | null;
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: {
    codec_type?: string;
    codec_name?: string;
    channels?: number;
    sample_rate?: string;
    duration?: string;
    tags?: Record<string, string>;
  }[];
  chapters?: { start_time?: string; end_time?: string; tags?: Record<string, string> }[];
}

const run = promisify(execFile);

/** ffprobe restricted to local files and allowed demuxers; bad input becomes BadInputError. */
export async function probeMedia(ffprobePath: string, path: string): Promise<ProbeResult> {
  let json: FfprobeJson;
  try {
    const { stdout } = await run(
      ffprobePath,
      [
        '-v',
        'error',
        '-protocol_whitelist',
        'file',
        '-format_whitelist',
        ALLOWED_DEMUXERS.join(','),
        '-show_format',
        '-show_streams',
        '-show_chapters',
        '-of',
        'json',
        path,
      ],
      { timeout: 60_000, maxBuffer: 8 * 2 ** 20 },
    );
    json = JSON.parse(stdout) as FfprobeJson;
  } catch (error) {
    throw new BadInputError(
      ConversionErrorCode.UNSUPPORTED_MEDIA,
      `Not a media file we can read: ${firstLine(error)}`,
    );
  }
  const names = (json.format?.format_name ?? '').split(',');
  const demuxer = names.find((name) => (ALLOWED_DEMUXERS as readonly string[]).includes(name));
  if (!demuxer) {
    throw new BadInputError(
      ConversionErrorCode.UNSUPPORTED_MEDIA,
      `Container ${json.format?.format_name ?? 'unknown'} is not accepted`,
    );
  }
  const streams = (json.streams ?? []).filter((s) => s.codec_type === 'audio');
  const stream = streams[0];
  const duration = Number(json.format?.duration ?? stream?.duration ?? Number.NaN);
  const bitRate = Number(json.format?.bit_rate);
  return {
    demuxer,
    durationSeconds: Number.isFinite(duration) ? duration : 0,
    audio: stream
      ? {
          codec: stream.codec_name ?? 'unknown',
          channels: stream.channels ?? 0,
          sampleRateHz: Number(stream.sample_rate ?? 0),
        }
      : null,
    audioStreams: streams.map((s, index) => ({
      index,
      language: tag(s.tags, 'language')?.toLowerCase() ?? null,
      codec: s.codec_name ?? 'unknown',
      channels: s.channels ?? 0,
      sampleRateHz: Number(s.sample_rate ?? 0),
      title: tag(s.tags, 'title') ?? null,
    })),
    chapters: (json.chapters ?? []).flatMap((c, n) => {
      const start = Number(c.start_time);
      const end = Number(c.end_time);
      if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return [];
      return [
        { title: tag(c.tags, 'title') ?? `Chapter ${n + 1}`, startSeconds: start, endSeconds: end },
      ];
    }),
    bitRate: Number.isFinite(bitRate) ? bitRate : null,
  };
}

/** A tag by name, whatever its case (containers differ); "und" is no language. */
function tag(tags: Record<string, string> | undefined, name: string): string | undefined {
  if (!tags) return undefined;
  const key = Object.keys(tags).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : tags[key];
  return value && value !== 'und' ? value.slice(0, 200) : undefined;
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: string }).stderr;
  return (
    stderr?.trim().split('\n')[0] ?? (error instanceof Error ? error.message : 'ffprobe failed')
  ).slice(0, 300);
}
