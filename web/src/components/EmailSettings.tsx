import { useEffect, useRef, useState } from 'preact/hooks';
import {
  EmailNotificationsDocument,
  SetNotificationEmailDocument,
  UpdateEmailNotificationsDocument,
  VerifyNotificationEmailDocument,
  type EmailNotificationsFieldsFragment,
} from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api, type ApiResult } from '../api/createApi.js';
import { StatusLines } from './StatusLines.js';

type Settings = EmailNotificationsFieldsFragment;

/**
 * "Email me": an address is sent a 6-digit code (and a link), and only once the code comes
 * back here (or the link is followed) is it mailed a notice. Then On/Off turns the mail off and
 * on. Setting an address again sends a new code.
 */
export function EmailSettings({ api }: { api: Api }) {
  const [settings, setSettings] = useState<Settings | null>();
  const [address, setAddress] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const codeField = useRef<HTMLInputElement>(null);

  useEffect(() => {
    void api.request(EmailNotificationsDocument, {}).then((result) => {
      if (result.error) setProblem(describeApiError(result.error));
      else setSettings(result.data.emailNotifications);
    });
  }, [api]);

  /** One mutation under way: its answer replaces the settings shown; `done` says what happened. */
  const act = async <T,>(
    answer: Promise<ApiResult<T>>,
    pick: (data: T) => Settings,
    done: (saved: Settings) => string | undefined = () => undefined,
  ) => {
    setBusy(true);
    setProblem(undefined);
    setNotice(undefined);
    const result = await answer;
    setBusy(false);
    if (result.error) {
      setProblem(describeApiError(result.error));
      return;
    }
    const saved = pick(result.data);
    setSettings(saved);
    setNotice(done(saved));
  };
  const sendCode = () =>
    act(
      api.request(SetNotificationEmailDocument, { address: address.trim() }),
      (data) => data.setNotificationEmail,
      (saved) => {
        setAddress('');
        setCode('');
        // What comes next is typing the code: go there once the field is shown.
        setTimeout(() => codeField.current?.focus());
        return `A code is on its way to ${saved.address}.`;
      },
    );
  const verify = () =>
    act(
      api.request(VerifyNotificationEmailDocument, { code: code.trim() }),
      (data) => data.verifyNotificationEmail,
      (saved) => {
        setCode('');
        return `${saved.address} is verified.`;
      },
    );
  const turn = (enabled: boolean) =>
    act(
      api.request(UpdateEmailNotificationsDocument, { enabled }),
      (data) => data.updateEmailNotifications,
    );

  return (
    <div class="channel" role="group" aria-labelledby="email-heading">
      <h3 id="email-heading">Email me</h3>
      {settings && (
        <p class="status">
          <span
            class={`badge ${settings.verified && settings.enabled ? 'enabled' : 'disabled'}`}
            data-state={settings.verified ? (settings.enabled ? 'on' : 'off') : 'unverified'}
          >
            {settings.verified ? (settings.enabled ? 'On' : 'Off') : 'Not verified'}
          </span>{' '}
          <span class="address">{settings.address}</span>
        </p>
      )}
      {settings?.verified && (
        <div class="actions">
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => void turn(!settings.enabled)}
          >
            {settings.enabled ? 'Turn off email' : 'Turn on email'}
          </button>
        </div>
      )}
      {settings && !settings.verified && (
        <form
          class="channel-form"
          aria-label="Verify the address"
          onSubmit={(event) => {
            event.preventDefault();
            void verify();
          }}
        >
          <label for="email-code">Code from the mail to {settings.address}</label>
          <input
            ref={codeField}
            id="email-code"
            type="text"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
            value={code}
            onInput={(event) => setCode(event.currentTarget.value)}
          />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Verify
            </button>
          </div>
        </form>
      )}
      <form
        class="channel-form"
        aria-label="Set the notification address"
        onSubmit={(event) => {
          event.preventDefault();
          void sendCode();
        }}
      >
        <label for="email-address">Email address</label>
        <input
          id="email-address"
          type="email"
          required
          autoComplete="email"
          value={address}
          onInput={(event) => setAddress(event.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit" disabled={busy}>
            Send code
          </button>
        </div>
      </form>
      <StatusLines notice={notice} problem={problem} />
    </div>
  );
}
