import type { LoudnessMode, LoudnessReport } from '../lib/contracts/audioReport.js';

/** loudnorm's figures (`print_format=json`), as its second pass takes them back (`measured_*`). */
export interface LoudnormMeasurement {
  inputLufs: number;
  inputTruePeakDb: number;
  inputRangeLu: number;
  inputThresholdLufs: number;
  targetOffsetLu: number;
  outputLufs: number;
  outputTruePeakDb: number;
  outputRangeLu: number;
  /** "linear" or "dynamic": what loudnorm ended up doing. */
  normalization: string;
}

/**
 * The JSON block loudnorm logs at its end (`print_format=json`, info level), found in ffmpeg's
 * log; undefined when there is none or it does not hold finite figures (silence gives -inf).
 */
export function parseLoudnormReport(log: string): LoudnormMeasurement | undefined {
  const at = log.lastIndexOf('Parsed_loudnorm');
  if (at < 0) return undefined;
  const open = log.indexOf('{', at);
  const close = log.indexOf('}', open);
  if (open < 0 || close < 0) return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(log.slice(open, close + 1)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const num = (key: string) => Number(raw[key]);
  const figures = {
    inputLufs: num('input_i'),
    inputTruePeakDb: num('input_tp'),
    inputRangeLu: num('input_lra'),
    inputThresholdLufs: num('input_thresh'),
    targetOffsetLu: num('target_offset'),
    outputLufs: num('output_i'),
    outputTruePeakDb: num('output_tp'),
    outputRangeLu: num('output_lra'),
  };
  if (!Object.values(figures).every(Number.isFinite)) return undefined;
  const normalization = typeof raw.normalization_type === 'string' ? raw.normalization_type : '';
  return { ...figures, normalization };
}

/** The report stored with the MP3, from the pass that made it. */
export function toLoudnessReport(
  made: LoudnormMeasurement,
  targetLufs: number,
  twoPass: boolean,
): LoudnessReport {
  const mode: LoudnessMode = !twoPass
    ? 'SINGLE_PASS_DYNAMIC'
    : made.normalization === 'linear'
      ? 'TWO_PASS_LINEAR'
      : 'TWO_PASS_DYNAMIC';
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    mode,
    targetLufs,
    inputLufs: round(made.inputLufs),
    inputTruePeakDb: round(made.inputTruePeakDb),
    inputRangeLu: round(made.inputRangeLu),
    outputLufs: round(made.outputLufs),
    truePeakDb: round(made.outputTruePeakDb),
    rangeLu: round(made.outputRangeLu),
  };
}
