import type { ChapterMark } from '../lib/contracts/audioReport.js';
import type { SourceChapter } from './probeMedia.js';

/**
 * The chapters the MP3 gets: the source's that overlap the kept part (`start`–`end`, source
 * seconds), moved to the MP3's time and cut at its ends; none when `wanted` is false.
 */
export function planChapters(
  chapters: readonly SourceChapter[],
  keep: { start: number; end: number; wanted: boolean },
): ChapterMark[] {
  if (!keep.wanted) return [];
  const length = keep.end - keep.start;
  const round = (seconds: number) => Math.round(seconds * 1000) / 1000;
  return chapters
    .filter((c) => c.endSeconds > keep.start && c.startSeconds < keep.end)
    .map((c) => ({
      title: c.title,
      startSeconds: round(Math.max(0, c.startSeconds - keep.start)),
      endSeconds: round(Math.min(length, c.endSeconds - keep.start)),
    }))
    .filter((c) => c.endSeconds > c.startSeconds);
}

/** The chapters as an FFMETADATA1 file, ffmpeg's second input (`-map_chapters 1`). */
export function formatFfmetadata(chapters: readonly ChapterMark[]): string {
  // `=`, `;`, `#`, `\` and newlines are escaped with a backslash in FFMETADATA values.
  const escape = (text: string) => text.replace(/[=;#\\\n]/g, (c) => `\\${c}`);
  return [
    ';FFMETADATA1',
    ...chapters.flatMap((c) => [
      '[CHAPTER]',
      'TIMEBASE=1/1000',
      `START=${Math.round(c.startSeconds * 1000)}`,
      `END=${Math.round(c.endSeconds * 1000)}`,
      `title=${escape(c.title)}`,
    ]),
    '',
  ].join('\n');
}
