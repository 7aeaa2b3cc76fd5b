import type { AudioMetadata } from '../lib/stores/audioFiles.js';
import type { FfmpegPlan } from './buildFfmpegArgs.js';
import { parseLoudnormReport, toLoudnessReport } from './parseLoudnormReport.js';

/**
 * What is stored with the MP3 beyond its duration and bitrate: its chapters, and loudnorm's
 * report from the run that made it (none when loudness was not asked, or loudnorm could not
 * measure it: silence).
 */
export function describeMp3(
  plan: Pick<FfmpegPlan, 'chapters' | 'loudness'>,
  log: string,
): Required<Pick<AudioMetadata, 'chapters'>> & Pick<AudioMetadata, 'loudness'> {
  const made = plan.loudness ? parseLoudnormReport(log) : undefined;
  return {
    chapters: plan.chapters,
    ...(plan.loudness && made
      ? {
          loudness: toLoudnessReport(
            made,
            plan.loudness.target.targetLufs,
            plan.loudness.pass.kind === 'linear',
          ),
        }
      : {}),
  };
}
