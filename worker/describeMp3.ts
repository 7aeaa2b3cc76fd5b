import type { LoudnessReport } from '../lib/contracts/audioReport.js';
import type { AudioMetadata } from '../lib/stores/audioFiles.js';
import type { FfmpegPlan } from './buildFfmpegArgs.js';
import { parseLoudnormReport } from './parseLoudnormReport.js';

/**
 * What is stored with the MP3 beyond its duration and bitrate: its chapters, and its loudness
 * report (none when loudness was not asked, or could not be measured: silence).
 */
export function describeMp3(
  plan: Pick<FfmpegPlan, 'chapters' | 'loudness'>,
  log: string,
): Required<Pick<AudioMetadata, 'chapters'>> & Pick<AudioMetadata, 'loudness'> {
  const loudness = plan.loudness ? loudnessReport(plan.loudness, log) : undefined;
  return { chapters: plan.chapters, ...(loudness ? { loudness } : {}) };
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * A linear pass is reported from the first pass's measurement and its gain, which moves
 * integrated loudness and true peak by exactly that much and leaves the range as it was; a
 * dynamic one (`single`, `limited`) from loudnorm's own report of its input and output.
 */
function loudnessReport(
  { target, pass }: NonNullable<FfmpegPlan['loudness']>,
  log: string,
): LoudnessReport | undefined {
  if (pass.kind === 'linear') {
    const m = pass.measured;
    return {
      mode: 'TWO_PASS_LINEAR',
      targetLufs: target.targetLufs,
      inputLufs: round(m.integratedLufs),
      inputTruePeakDb: round(m.truePeakDb),
      inputRangeLu: round(m.rangeLu),
      outputLufs: round(m.integratedLufs + pass.gainDb),
      truePeakDb: round(m.truePeakDb + pass.gainDb),
      rangeLu: round(m.rangeLu),
    };
  }
  const made = parseLoudnormReport(log);
  if (!made) return undefined;
  return {
    mode: pass.kind === 'single' ? 'SINGLE_PASS_DYNAMIC' : 'TWO_PASS_DYNAMIC',
    targetLufs: target.targetLufs,
    inputLufs: round(made.inputLufs),
    inputTruePeakDb: round(made.inputTruePeakDb),
    inputRangeLu: round(made.inputRangeLu),
    outputLufs: round(made.outputLufs),
    truePeakDb: round(made.outputTruePeakDb),
    rangeLu: round(made.outputRangeLu),
  };
}
