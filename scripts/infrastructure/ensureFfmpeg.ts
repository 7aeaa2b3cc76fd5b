// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { spawnSync } from 'node:child_process';
import { aptInstall, findExecutable, MissingInfrastructureError, type Say } from './hostTools.js';

/** FFMPEG_PATH/FFPROBE_PATH if set; else the system's; else Debian's, installed with apt. */
export function ensureFfmpeg(
  env: NodeJS.ProcessEnv,
  say: Say,
): { ffmpegPath: string; ffprobePath: string } {
  const configured = { ffmpegPath: env.FFMPEG_PATH, ffprobePath: env.FFPROBE_PATH };
  let ffmpegPath = configured.ffmpegPath ?? findExecutable('ffmpeg', []);
  let ffprobePath = configured.ffprobePath ?? findExecutable('ffprobe', []);
  if (!ffmpegPath || !ffprobePath) {
    aptInstall('ffmpeg', 'FFmpeg', 'FFMPEG_PATH and FFPROBE_PATH', say);
    ffmpegPath ??= findExecutable('ffmpeg', []);
    ffprobePath ??= findExecutable('ffprobe', []);
  }
  for (const [name, path] of [
    ['FFMPEG_PATH', ffmpegPath],
    ['FFPROBE_PATH', ffprobePath],
  ] as const) {
    if (!path || spawnSync(path, ['-version'], { stdio: 'ignore' }).status !== 0) {
      throw new MissingInfrastructureError(
        `${name} does not point at a working program (${path ?? 'not found'}).`,
      );
    }
  }
  return { ffmpegPath: ffmpegPath as string, ffprobePath: ffprobePath as string };
}
