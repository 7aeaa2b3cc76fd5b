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
      title: cleanTitle(c.title),
      startSeconds: round(Math.max(0, c.startSeconds - keep.start)),
      endSeconds: round(Math.min(length, c.endSeconds - keep.start)),
    }))
    .filter((c) => c.endSeconds > c.startSeconds);
}

/**
 * A chapter title as the MP3 may carry it. Titles come from the uploaded file, and ffmpeg's
 * FFMETADATA reader ends a line at a CR as well as a LF and takes a newline as escaped whenever
 * a backslash precedes it, even an escaped one: a title with either could add chapters or keys
 * of its own. Control characters and backslashes go (the ID3 title and artist refuse them).
 */
export function cleanTitle(title: string): string {
  return title.replace(/[\p{Cc}\\]/gu, '').trim();
}

/** The chapters as an FFMETADATA1 file, ffmpeg's second input (`-map_chapters 1`). */
export function formatFfmetadata(chapters: readonly ChapterMark[]): string {
  // `=`, `;` and `#` are escaped with a backslash in FFMETADATA values; titles hold no
  // backslash or line break (cleanTitle).
  const escape = (text: string) => text.replace(/[=;#]/g, (c) => `\\${c}`);
  return [
    ';FFMETADATA1',
    ...chapters.flatMap((c) => [
      '[CHAPTER]',
      'TIMEBASE=1/1000',
      `START=${Math.round(c.startSeconds * 1000)}`,
      `END=${Math.round(c.endSeconds * 1000)}`,
      `title=${escape(cleanTitle(c.title))}`,
    ]),
    '',
  ].join('\n');
}
