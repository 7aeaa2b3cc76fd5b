const MAX_FILENAME_LENGTH = 255;

/**
 * The name a user's file is kept and served under: no directories (`../`), no control
 * characters (CR/LF would split headers), at most 255 characters, never empty. Anything else,
 * quotes and non-ASCII included, is kept and encoded safely where it is used.
 */
export function cleanFilename(original: string): string {
  const base = original.split(/[/\\]/).pop() ?? '';
  const cleaned = base.replace(/\p{Cc}/gu, '').trim();
  const name = [...cleaned].slice(0, MAX_FILENAME_LENGTH).join('');
  return name === '' || name === '.' || name === '..' ? 'video' : name;
}
