import { stat, writeFile } from 'node:fs/promises';
import { ConversionErrorCode } from '../../lib/contracts/errorCodes.js';
import type { ConversionRecord } from '../../lib/stores/conversions.js';
import { BadInputError } from '../BadInputError.js';
import { buildFfmpegArgs, type FfmpegPlan } from '../buildFfmpegArgs.js';
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
  /** The plan for the whole local copy at `inputPath`, probed. */
  forFile(inputPath: string): Promise<FfmpegPlan>;
  /** The MP3's probe if it is whole (ffmpeg can exit 0 with an empty or short file), else none. */
  check(plan: FfmpegPlan): Promise<ProbeResult | undefined>;
}

export function createConversionPlanner(deps: {
  tools: Pick<MediaTools, 'probe'>;
  maxMediaSeconds: number;
  record: Pick<ConversionRecord, 'options' | 'filename'>;
  /** Where ffmpeg writes the MP3. */
  outputPath: string;
}): ConversionPlanner {
  const { tools, record, outputPath } = deps;

  const planFor = (probe: ProbeResult, source: string): FfmpegPlan => {
    if (probe.durationSeconds > deps.maxMediaSeconds) {
      throw new BadInputError(
        ConversionErrorCode.MEDIA_TOO_LONG,
        `The media lasts ${Math.round(probe.durationSeconds)} s, over the limit of ${deps.maxMediaSeconds} s`,
      );
    }
    return buildFfmpegArgs({
      source,
      output: outputPath,
      probe,
      requested: record.options,
      videoFilename: record.filename,
    });
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
      return {
        plan: planFor(probe, 'pipe:0'),
        reason: 'the upload was streaming and its head has its index',
      };
    },

    async forFile(inputPath) {
      return planFor(await tools.probe(inputPath), inputPath);
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
