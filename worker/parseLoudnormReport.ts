/** loudnorm's figures (`print_format=json`): of its input, and of what it made. */
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
