const MAX_FILENAME_LENGTH = 255;

/**
 * Control characters (Cc: NUL, CR and LF would split headers) and the bidirectional
 * formatting characters (U+061C, U+200E-F, U+202A-E, U+2066-9), which make a name display
 * other than it reads: `evil\u202Egnp.mp4` shows as `evilmp4.png`.
 */
const UNSAFE_CHARACTERS = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * The name a user's file is kept and served under: no directories (`../`), no control or bidi
 * formatting characters, at most 255 characters, never empty. Anything else, quotes and
 * non-ASCII included, is kept and encoded safely where it is used.
 */
export function cleanFilename(original: string): string {
  const base = original.split(/[/\\]/).pop() ?? '';
  const cleaned = base.replace(UNSAFE_CHARACTERS, '').trim();
  const name = [...cleaned].slice(0, MAX_FILENAME_LENGTH).join('');
  return name === '' || name === '.' || name === '..' ? 'video' : name;
}
