import { stat, writeFile } from 'node:fs/promises';
import { ConversionErrorCode } from '../../lib/contracts/errorCodes.js';
import type { AudioStreamInfo } from '../../lib/contracts/audioReport.js';
import type { ConversionRecord } from '../../lib/stores/conversions.js';
import { BadInputError } from '../BadInputError.js';
import { buildFfmpegArgs, buildLoudnessMeasureArgs, type FfmpegPlan } from '../buildFfmpegArgs.js';
import { parseEbur128Summary, planLoudnessPass, type LoudnessPass } from '../planLoudnessPass.js';
import { formatFfmetadata } from '../planChapters.js';
import type { ProbeResult } from '../probeMedia.js';
import type { Streamability } from '../readStreamability.js';
import type { MediaTools } from './types.js';

/** The plan stage: probes, and the ffmpeg arguments for a stream or for the stored file. */
export interface ConversionPlanner {
  /**
   * The plan for ffmpeg on a pipe, from the head (written to `headPath` and probed), or why
   * the stored file must serve.
   */
  forStream(
    read: { streamability: Streamability; head: Buffer },
    headPath: string,
  ): Promise<{ plan?: FfmpegPlan; reason: string }>;
  /**
   * The plan for the whole local copy at `inputPath`, probed; with loudness asked, after a
   * first ffmpeg pass that measures it (two-pass normalization).
   */
  forFile(
    inputPath: string,
    run: { signal: AbortSignal; timeoutMs: () => number },
  ): Promise<FfmpegPlan>;
  /** The MP3's probe if it is whole (ffmpeg can exit 0 with an empty or short file), else none. */
  check(plan: FfmpegPlan): Promise<ProbeResult | undefined>;
}

export function createConversionPlanner(deps: {
  tools: MediaTools;
  maxMediaSeconds: number;
  record: Pick<ConversionRecord, 'options' | 'filename'>;
  /** Where ffmpeg writes the MP3. */
  outputPath: string;
  /** Where the chapters go for ffmpeg, when the MP3 gets any. */
  chaptersPath: string;
  /** Told the audio streams of each probe of the source, before the plan can refuse it. */
  describeSource?: (audioStreams: AudioStreamInfo[]) => Promise<unknown>;
}): ConversionPlanner {
  const { tools, record, outputPath } = deps;
  // Only the stream's fields a client is offered; a failure to keep them fails nothing.
  const describe = (probe: ProbeResult) =>
    deps
      .describeSource?.(
        probe.audioStreams.map(({ index, language, codec, channels, title }) => ({
          index,
          language,
          codec,
          channels,
          title,
        })),
      )
      ?.catch(() => undefined);

  const planFor = async (
    probe: ProbeResult,
    source: string,
    loudnessPass?: LoudnessPass,
  ): Promise<FfmpegPlan> => {
    if (probe.durationSeconds > deps.maxMediaSeconds) {
      throw new BadInputError(
        ConversionErrorCode.MEDIA_TOO_LONG,
        `The media lasts ${Math.round(probe.durationSeconds)} s, over the limit of ${deps.maxMediaSeconds} s`,
      );
    }
    const plan = buildFfmpegArgs({
      source,
      output: outputPath,
      probe,
      requested: record.options,
      videoFilename: record.filename,
      chaptersPath: deps.chaptersPath,
      ...(loudnessPass ? { loudnessPass } : {}),
    });
    if (plan.chapters.length > 0) {
      await writeFile(deps.chaptersPath, formatFfmetadata(plan.chapters), { mode: 0o600 });
    }
    return plan;
  };

  /** The first of two loudness passes: loudnorm's figures for the whole (trimmed) source. */
  const measureLoudness = async (
    probe: ProbeResult,
    source: string,
    run: { signal: AbortSignal; timeoutMs: () => number },
  ): Promise<LoudnessPass> => {
    const loudness = record.options.loudness;
    if (!loudness) return { kind: 'single' };
    // Checks the trim and the track before spending a pass on them.
    await planFor(probe, source);
    const ran = await tools.ffmpeg(
      buildLoudnessMeasureArgs({ source, probe, requested: { ...record.options, loudness } }),
      {
        expectedSeconds: probe.durationSeconds,
        timeoutMs: run.timeoutMs(),
        signal: run.signal,
        onProgress: () => undefined,
      },
    );
    return planLoudnessPass(parseEbur128Summary(ran.log ?? ''), loudness);
  };

  return {
    async forStream({ streamability, head }, headPath) {
      if (streamability.kind !== 'stream') {
        return {
          reason: streamability.kind === 'stored' ? streamability.reason : 'no index in 16 MiB',
        };
      }
      await writeFile(headPath, head.subarray(0, streamability.headBytes), { mode: 0o600 });
      // A head that does not probe may still be a whole file that does: the stored path decides.
      const probe = await tools.probe(headPath).catch(() => null);
      if (!probe || !(probe.durationSeconds > 0) || !probe.audio) {
        return { reason: 'its head tells no duration or audio stream' };
      }
      await describe(probe);
      return {
        plan: await planFor(probe, 'pipe:0', { kind: 'single' }),
        reason: 'the upload was streaming and its head has its index',
      };
    },

    async forFile(inputPath, run) {
      const probe = await tools.probe(inputPath);
      await describe(probe);
      return planFor(probe, inputPath, await measureLoudness(probe, inputPath, run));
    },

    async check(plan) {
      const size = await stat(outputPath).then(
        (s) => s.size,
        () => 0,
      );
      if (size === 0) return undefined;
      const made = await tools.probe(outputPath).catch(() => null);
      const tolerance = Math.max(0.5, plan.expectedSeconds * 0.02);
      if (!made || Math.abs(made.durationSeconds - plan.expectedSeconds) > tolerance) {
        return undefined;
      }
      return made;
    },
  };
}
