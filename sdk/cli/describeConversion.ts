import type { Conversion } from '../createReelfluxClient.js';
import { formatBytes } from './createProgress.js';

/** A conversion as `status` and `history` show it: id, state, file, then error or MP3. */
export function describeConversion(c: Conversion): string {
  const lines = [
    `${c.id}  ${c.status}${c.status === 'RUNNING' ? ` ${Math.round((c.progress ?? 0) * 100)}%` : ''}  ${c.video.filename}`,
  ];
  if (c.error) lines.push(`error: ${c.error.code}: ${c.error.message}`);
  if (c.audio)
    lines.push(
      `mp3: ${formatBytes(c.audio.bytes)}, ${c.audio.durationSeconds.toFixed(1)} s, ${c.audio.bitrateKbps} kbps`,
    );
  return lines.join('\n');
}
