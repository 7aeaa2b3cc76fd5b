import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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

export interface ProbeResult {
  /** The demuxer to force for ffmpeg: the first of ffprobe's names that is allowed. */
  demuxer: string;
  durationSeconds: number;
  audio: { codec: string; channels: number; sampleRateHz: number } | null;
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
  }[];
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
  const stream = json.streams?.find((s) => s.codec_type === 'audio');
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
    bitRate: Number.isFinite(bitRate) ? bitRate : null,
  };
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: string }).stderr;
  return (
    stderr?.trim().split('\n')[0] ?? (error instanceof Error ? error.message : 'ffprobe failed')
  ).slice(0, 300);
}
