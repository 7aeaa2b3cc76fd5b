import { useEffect, useRef, useState } from 'preact/hooks';
import { LogInDocument, SignUpDocument } from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api } from '../api/createApi.js';
import type { Session } from '../session.js';

/** Email and password, with "Log in" (Enter) and "Sign up". */
export function AccountForm({ api, onSignedIn }: { api: Api; onSignedIn: (s: Session) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  // The first field, also after logging out (the Log out button is gone).
  const emailField = useRef<HTMLInputElement>(null);
  useEffect(() => emailField.current?.focus(), []);

  const submit = async (action: 'logIn' | 'signUp') => {
    setBusy(true);
    setProblem(undefined);
    const variables = { email: email.trim(), password };
    const result =
      action === 'logIn'
        ? await api.request(LogInDocument, variables)
        : await api.request(SignUpDocument, variables);
    setBusy(false);
    const auth = result.data && ('logIn' in result.data ? result.data.logIn : result.data.signUp);
    if (auth) {
      onSignedIn({ token: auth.token, email: auth.user.email, expiresAt: auth.expiresAt });
    } else if (result.error) {
      setProblem(describeApiError(result.error, action === 'logIn' ? 'logIn' : undefined));
    }
  };

  return (
    <form
      class="panel account-form"
      aria-labelledby="account-heading"
      onSubmit={(event) => {
        event.preventDefault();
        void submit('logIn');
      }}
    >
      <h2 id="account-heading">Log in or sign up</h2>
      <p class="hint">Upload a video and get its sound back as an MP3.</p>
      <label for="email">Email</label>
      <input
        ref={emailField}
        id="email"
        type="email"
        autocomplete="username"
        required
        value={email}
        onInput={(event) => setEmail(event.currentTarget.value)}
      />
      <label for="password">Password</label>
      <input
        id="password"
        type="password"
        autocomplete="current-password"
        required
        minLength={10}
        aria-describedby="password-hint"
        value={password}
        onInput={(event) => setPassword(event.currentTarget.value)}
      />
      <p id="password-hint" class="hint">
        At least 10 characters.
      </p>
      {problem && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          Log in
        </button>
        <button
          type="button"
          class="secondary"
          disabled={busy}
          onClick={(event) => {
            // The same validation as a submit: an empty field says so instead of asking.
            if (event.currentTarget.form?.reportValidity()) void submit('signUp');
          }}
        >
          Sign up
        </button>
      </div>
    </form>
  );
}
