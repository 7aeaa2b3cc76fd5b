/** Who is logged in on this tab: the token, kept for the browser session only. */
export interface Session {
  token: string;
  email: string;
  expiresAt: string;
}

const KEY = 'reelflux.session';

/** The tab's session, unless there is none or its token has expired. */
export function loadSession(): Session | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Partial<Session> | null;
    if (
      typeof stored?.token === 'string' &&
      typeof stored.email === 'string' &&
      typeof stored.expiresAt === 'string' &&
      Date.parse(stored.expiresAt) > Date.now()
    ) {
      return { token: stored.token, email: stored.email, expiresAt: stored.expiresAt };
    }
  } catch {
    // Unreadable storage (blocked, or not JSON) is the same as no session.
  }
  return undefined;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
