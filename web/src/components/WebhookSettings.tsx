import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  AddWebhookEndpointDocument,
  WebhookEndpointsDocument,
  type NotificationEvent,
  type WebhookEndpointFieldsFragment,
} from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api } from '../api/createApi.js';
import { WebhookEndpointCard } from './WebhookEndpointCard.js';

/** The events a user can choose, as the form labels them, in the order it shows them. */
const EVENTS: readonly { event: NotificationEvent; label: string }[] = [
  { event: 'CONVERSION_SUCCEEDED', label: 'Succeeded' },
  { event: 'CONVERSION_FAILED', label: 'Failed' },
  { event: 'CONVERSION_CANCELLED', label: 'Cancelled' },
];

/**
 * "Webhooks", under Notifications: the user's webhook endpoints. A form adds one (URL and events) and shows
 * its signing secret this once; each endpoint can be turned off and on, tested and removed,
 * and shows its last deliveries.
 */
export function WebhookSettings({ api }: { api: Api }) {
  const [endpoints, setEndpoints] = useState<WebhookEndpointFieldsFragment[]>();
  const [problem, setProblem] = useState<string>();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<readonly NotificationEvent[]>(EVENTS.map((e) => e.event));
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ url: string; secret: string }>();
  const heading = useRef<HTMLHeadingElement>(null);

  const load = useCallback(async () => {
    const result = await api.request(WebhookEndpointsDocument, {});
    if (result.error) setProblem(describeApiError(result.error));
    else if (result.data) setEndpoints(result.data.webhookEndpoints);
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  const add = async () => {
    setBusy(true);
    setProblem(undefined);
    const result = await api.request(AddWebhookEndpointDocument, {
      input: { url: url.trim(), events: [...events] },
    });
    setBusy(false);
    if (result.error) {
      setProblem(describeApiError(result.error));
      return;
    }
    if (!result.data) return;
    const { endpoint, secret } = result.data.addWebhookEndpoint;
    setCreated({ url: endpoint.url, secret });
    setEndpoints((current) => [...(current ?? []), endpoint]);
    setUrl('');
  };
  const toggle = (event: NotificationEvent, on: boolean) =>
    setEvents((current) =>
      EVENTS.map((e) => e.event).filter((e) => (e === event ? on : current.includes(e))),
    );
  const onChanged = useCallback((changed: WebhookEndpointFieldsFragment) => {
    setEndpoints((current) => current?.map((e) => (e.id === changed.id ? changed : e)));
  }, []);
  const onRemoved = useCallback((id: string) => {
    setEndpoints((current) => current?.filter((e) => e.id !== id));
    // The card, and the focus with it, is gone: go on from the section's heading.
    heading.current?.focus();
  }, []);

  return (
    <div class="channel" role="group" aria-labelledby="webhooks-heading">
      <h3 id="webhooks-heading" ref={heading} tabIndex={-1}>
        Webhooks
      </h3>
      <p class="hint">
        A webhook endpoint gets a signed POST each time one of your conversions ends.
      </p>
      <form
        class="webhook-form"
        aria-label="Add a webhook endpoint"
        onSubmit={(event) => {
          event.preventDefault();
          void add();
        }}
      >
        <label for="webhook-url">Endpoint URL</label>
        <input
          id="webhook-url"
          type="url"
          required
          placeholder="https://example.com/hooks/reelflux"
          value={url}
          onInput={(event) => setUrl(event.currentTarget.value)}
        />
        <fieldset>
          <legend>When a conversion has</legend>
          <div class="field-row">
            {EVENTS.map(({ event, label }) => (
              <label key={event} class="checkbox">
                <input
                  type="checkbox"
                  checked={events.includes(event)}
                  onChange={(change) => toggle(event, change.currentTarget.checked)}
                />
                {label}
              </label>
            ))}
          </div>
          {events.length === 0 && <p class="hint">Choose at least one.</p>}
        </fieldset>
        <div class="actions">
          <button type="submit" disabled={busy || events.length === 0}>
            Add endpoint
          </button>
        </div>
      </form>
      {created && (
        <SecretOnce
          {...created}
          onDone={() => {
            setCreated(undefined);
            heading.current?.focus();
          }}
        />
      )}
      {problem && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
      {endpoints?.length === 0 && <p class="hint">No webhook endpoints yet.</p>}
      <ul class="endpoints">
        {endpoints?.map((endpoint) => (
          <WebhookEndpointCard
            key={endpoint.id}
            api={api}
            endpoint={endpoint}
            onChanged={onChanged}
            onRemoved={onRemoved}
            onStale={() => void load()}
          />
        ))}
      </ul>
    </div>
  );
}

/**
 * A new endpoint's signing secret, with a copy button: the API answers it this once, so the
 * page keeps it only until "Done" (or the page is left).
 */
function SecretOnce({ url, secret, onDone }: { url: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string>();
  const field = useRef<HTMLInputElement>(null);
  // Keyboard and screen reader users land on what they have to copy.
  useEffect(() => field.current?.focus(), [secret]);
  const copy = () =>
    navigator.clipboard.writeText(secret).then(
      () => setCopied('Copied.'),
      () => setCopied('Select the secret and copy it with Ctrl+C (⌘C on a Mac).'),
    );
  return (
    <div class="secret">
      <label for="webhook-secret">Signing secret for {url}</label>
      <input
        ref={field}
        id="webhook-secret"
        type="text"
        readOnly
        spellcheck={false}
        value={secret}
        aria-describedby="webhook-secret-hint"
        onFocus={(event) => event.currentTarget.select()}
      />
      <p id="webhook-secret-hint" class="hint">
        Copy it now and keep it where your endpoint verifies signatures: it will not be shown again.
      </p>
      <div class="actions">
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          Done
        </button>
      </div>
      <p class="notice" role="status">
        {copied}
      </p>
    </div>
  );
}
