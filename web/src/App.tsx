import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { createApi } from './api/createApi.js';
import { AccountForm } from './components/AccountForm.js';
import { Workspace } from './components/Workspace.js';
import { clearSession, loadSession, saveSession, type Session } from './session.js';

export function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [ended, setEnded] = useState(false);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setEnded(false);
    setSession(next);
  }, []);
  const logOut = useCallback(() => {
    clearSession();
    setSession(undefined);
  }, []);
  const sessionEnded = useCallback(() => {
    setEnded(true);
    logOut();
  }, [logOut]);

  // One API client per token: logging in or out starts over, WebSocket included.
  const api = useMemo(
    () => createApi(session?.token, sessionEnded),
    [session?.token, sessionEnded],
  );
  useEffect(() => () => api.dispose(), [api]);

  return (
    <>
      <header class="top">
        <h1>REELFLUX</h1>
        <p class="tagline">Video in, MP3 out.</p>
        {session && (
          <div class="account">
            <span>{session.email}</span>
            <button type="button" class="secondary" onClick={logOut}>
              Log out
            </button>
          </div>
        )}
      </header>
      <main>
        {ended && !session && (
          <p class="problem" role="alert">
            Your session has ended. Please log in again.
          </p>
        )}
        {session ? <Workspace api={api} /> : <AccountForm api={api} onSignedIn={signIn} />}
      </main>
    </>
  );
}
