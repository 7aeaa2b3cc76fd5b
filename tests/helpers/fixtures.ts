import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A short H.264/AAC MP4 made by ffmpeg's lavfi sources (nothing binary is committed):
 * a test pattern and a sine tone.
 */
export function makeVideo(ffmpegPath: string, seconds = 3): Buffer {
  const out = join(mkdtempSync(join(tmpdir(), 'reelflux-fixture-')), 'clip.mp4');
  execFileSync(ffmpegPath, [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=320x240:rate=25:duration=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-c:a',
    'aac',
    '-shortest',
    out,
  ]);
  return readFileSync(out);
}

/** `size` bytes that sniff as MP4 (a real ftyp box, then noise): for size tests, not for ffmpeg. */
export function mp4Shaped(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 32; i + 4 <= size; i += 4096) buffer.writeUInt32LE((i * 2654435761) >>> 0, i);
  Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex').copy(
    buffer,
  );
  return buffer;
}
