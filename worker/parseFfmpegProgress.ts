/**
 * Reads ffmpeg's `-progress` output (key=value lines, a block per update) and returns the
 * fraction done, 0 to 1, for each `out_time_us`/`out_time_ms` line, or null for other lines.
 */
export function parseFfmpegProgress(line: string, expectedSeconds: number): number | null {
  const match = /^out_time_(?:us|ms)=(\d+)$/.exec(line.trim());
  if (!match || !(expectedSeconds > 0)) return null;
  // Both keys carry microseconds (out_time_ms is misnamed in ffmpeg).
  const seconds = Number(match[1]) / 1e6;
  return Math.min(1, Math.max(0, seconds / expectedSeconds));
}
