/**
 * A download link as a path on this origin. The API gives absolute links built from the
 * server's PUBLIC_URL; the page was served by that same router, and a same-origin path keeps
 * the Content-Security-Policy at `'self'` even when the page was opened under another name.
 */
export function sameOriginPath(url: string): string {
  const parsed = new URL(url, location.href);
  return `${parsed.pathname}${parsed.search}`;
}
