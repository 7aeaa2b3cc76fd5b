import type { LoudnessTarget } from '../lib/contracts/mp3Options.js';

/** The first pass's figures for the whole (trimmed) source, by ffmpeg's ebur128 filter. */
export interface LoudnessMeasurement {
  integratedLufs: number;
  truePeakDb: number;
  rangeLu: number;
}

/**
 * How loudness is normalized in the run that makes the MP3: `single`, loudnorm adapting as it
 * goes, unmeasured (the realtime path cannot read ahead); `linear`, one gain for the whole, from
 * the first pass; `limited`, measured too, but one gain would put the true peak over its limit,
 * so loudnorm adapts instead.
 */
export type LoudnessPass =
  | { kind: 'single' }
  | { kind: 'linear'; measured: LoudnessMeasurement; gainDb: number }
  | { kind: 'limited'; measured: LoudnessMeasurement };

/**
 * Decides the second pass from the first: the gain that reaches the target, if the true peak
 * stays within its limit with it; else loudnorm's dynamic mode. (loudnorm's own `linear=true`
 * makes the same test, but resamples to 192 kHz and limits on the way: ten times the work of
 * a `volume` filter for the same gain.)
 */
export function planLoudnessPass(
  measured: LoudnessMeasurement | undefined,
  target: LoudnessTarget,
): LoudnessPass {
  // Silence measures -inf (no figures): nothing to take a gain from.
  if (!measured) return { kind: 'single' };
  const gainDb = Math.round((target.targetLufs - measured.integratedLufs) * 100) / 100;
  return measured.truePeakDb + gainDb <= target.truePeakDb
    ? { kind: 'linear', measured, gainDb }
    : { kind: 'limited', measured };
}

/**
 * The figures of ebur128's closing summary (`Summary:` … `I:`, `LRA:`, `Peak:`) in ffmpeg's log;
 * undefined when there is none or they are not finite.
 */
export function parseEbur128Summary(log: string): LoudnessMeasurement | undefined {
  const at = log.lastIndexOf('Summary:');
  if (at < 0) return undefined;
  const summary = log.slice(at);
  const figure = (pattern: RegExp) => Number(pattern.exec(summary)?.[1] ?? Number.NaN);
  const measured = {
    integratedLufs: figure(/\bI:\s+(-?[\d.]+) LUFS/),
    rangeLu: figure(/\bLRA:\s+(-?[\d.]+) LU/),
    truePeakDb: figure(/\bPeak:\s+(-?[\d.]+) dBFS/),
  };
  return Object.values(measured).every(Number.isFinite) ? measured : undefined;
}
