/*
 * File names in Content-Disposition, for everything that writes one: media's downloads, the
 * router's re-sent uploads, the SDK's uploads, the test client, the web page's download links.
 * No dependencies, so the SDK and the page can use it too.
 */

/**
 * A value for an RFC 8187 extended header parameter (`filename*=UTF-8''<this>`).
 * encodeURIComponent leaves ' ( ) * ! as they are, and ' is a delimiter there.
 */
export function encodeExtValue(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*!]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * `filename` and `filename*` parameters for any name: an ASCII fallback (quotes, backslashes
 * and non-ASCII replaced) for parsers that read only that, and the exact name in `filename*`.
 */
export function filenameParameters(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `filename="${fallback}"; filename*=UTF-8''${encodeExtValue(name)}`;
}

/** The MP3's name for a video's, as downloads give it: `movie.final.mov` → `movie.final.mp3`. */
export function mp3Name(videoFilename: string): string {
  const dot = videoFilename.lastIndexOf('.');
  return `${dot > 0 ? videoFilename.slice(0, dot) : videoFilename}.mp3`;
}
