import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ErrorCode } from '../../../lib/contracts/errorCodes.js';
import {
  RemoveWebhookEndpointDocument,
  TestWebhookEndpointDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  type DeliveryStatus,
  type NotificationEvent,
  type WebhookDeliveryFieldsFragment,
  type WebhookEndpointFieldsFragment,
} from '../../../sdk/generated/graphql.js';
import { describeApiError, problemOf, type Api, type ApiResult } from '../api/createApi.js';

/** How many of an endpoint's deliveries the card shows, newest first. */
const DELIVERIES_SHOWN = 5;
/**
 * How long "Send test" waits for the endpoint's answer: longer than the sender's own limit
 * for one attempt (10 s by default), so an endpoint that never answers shows as a timeout.
 */
const TEST_WAIT_MS = 15_000;
const POLL_MS = 1_000;

const EVENT_WORDS: Record<NotificationEvent, string> = {
  CONVERSION_SUCCEEDED: 'succeeded',
  CONVERSION_FAILED: 'failed',
  CONVERSION_CANCELLED: 'cancelled',
};

const DELIVERY_WORDS: Record<DeliveryStatus, string> = {
  PENDING: 'Pending',
  DELIVERED: 'Delivered',
  FAILED: 'Failed',
  DROPPED: 'Dropped',
};

type Attempt = WebhookDeliveryFieldsFragment['attempts'][number];

/** `HTTP 200, 12 ms` or `No answer (timeout), 10000 ms`. */
function describeAttempt(attempt: Attempt): string {
  const outcome =
    attempt.statusCode === null
      ? `No answer (${attempt.error ?? 'unknown error'})`
      : `HTTP ${attempt.statusCode}${attempt.error ? ` (${attempt.error})` : ''}`;
  return `${outcome}, ${attempt.durationMs} ms`;
}

/**
 * One webhook endpoint: its URL, events and state, with "Turn off"/"Turn on", "Send test"
 * (which waits for the endpoint's answer), "Remove", and its last deliveries with every attempt.
 */
export function WebhookEndpointCard({
  api,
  endpoint,
  onChanged,
  onRemoved,
  onStale,
}: {
  api: Api;
  endpoint: WebhookEndpointFieldsFragment;
  onChanged: (endpoint: WebhookEndpointFieldsFragment) => void;
  onRemoved: (id: string) => void;
  /** The endpoint may be gone (removed elsewhere): reload the list. */
  onStale: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [deliveries, setDeliveries] = useState<WebhookDeliveryFieldsFragment[]>();
  const [waitingFor, setWaitingFor] = useState<{ id: string; until: number }>();
  const [confirmingRemove, setConfirmingRemove] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  const fetchDeliveries = async () => {
    const result = await api.request(WebhookDeliveriesDocument, {
      endpointId: endpoint.id,
      first: DELIVERIES_SHOWN,
    });
    if (result.data?.webhookEndpoint) setDeliveries(result.data.webhookEndpoint.deliveries);
    else if (result.error) setProblem(describeApiError(result.error));
    return result.data?.webhookEndpoint?.deliveries;
  };

  // After "Send test": look again every second until the test has an attempt, or give up.
  useEffect(() => {
    if (!waitingFor) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const look = async () => {
      const listed = await fetchDeliveries();
      if (stopped) return;
      const attempt = listed?.find((d) => d.id === waitingFor.id)?.attempts[0];
      if (attempt) {
        setNotice(`Test answered: ${describeAttempt(attempt)}.`);
        setWaitingFor(undefined);
      } else if (!listed || Date.now() >= waitingFor.until) {
        setNotice(listed ? 'No answer yet: the deliveries below show it once it comes.' : '');
        setWaitingFor(undefined);
      } else timer = setTimeout(() => void look(), POLL_MS);
    };
    timer = setTimeout(() => void look(), POLL_MS / 2);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // fetchDeliveries reads only the endpoint's id and the api, both in the list.
  }, [api, endpoint.id, waitingFor]);

  // Keyboard users stay where they were: on "Yes, remove" once asked, on "Remove" if kept.
  const removeButton = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const askedToRemove = useRef(false);
  useLayoutEffect(() => {
    if (confirmingRemove) confirmButton.current?.focus();
    else if (askedToRemove.current) removeButton.current?.focus();
    askedToRemove.current = confirmingRemove;
  }, [confirmingRemove]);

  const act = async <T,>(run: () => Promise<ApiResult<T>>, then: (data: T) => void) => {
    setBusy(true);
    setProblem(undefined);
    setNotice(undefined);
    const result = await run();
    setBusy(false);
    if (result.data) then(result.data);
    else if (result.error) {
      if (problemOf(result.error).code === ErrorCode.NOT_FOUND) {
        setProblem('This endpoint no longer exists.');
        onStale();
      } else setProblem(describeApiError(result.error));
      heading.current?.focus();
    }
  };
  const setEnabled = (enabled: boolean) =>
    act(
      () => api.request(UpdateWebhookEndpointDocument, { id: endpoint.id, change: { enabled } }),
      (data) => onChanged(data.updateWebhookEndpoint),
    );
  const test = () =>
    act(
      () => api.request(TestWebhookEndpointDocument, { id: endpoint.id }),
      (data) => {
        const sent = data.testWebhookEndpoint;
        setNotice('Test sent. Waiting for the answer…');
        setDeliveries((current) => [sent, ...(current ?? []).filter((d) => d.id !== sent.id)]);
        setWaitingFor({ id: sent.id, until: Date.now() + TEST_WAIT_MS });
      },
    );
  const remove = () =>
    act(
      () => api.request(RemoveWebhookEndpointDocument, { id: endpoint.id }),
      () => onRemoved(endpoint.id),
    );

  const headingId = `endpoint-${endpoint.id}`;
  return (
    <li class="endpoint-card" aria-labelledby={headingId}>
      <h4 id={headingId} ref={heading} tabIndex={-1}>
        {endpoint.url}
      </h4>
      <p class="status">
        <span class={`badge ${endpoint.enabled ? 'enabled' : 'disabled'}`}>
          {endpoint.enabled ? 'On' : 'Off'}
        </span>{' '}
        <span class="hint">
          When a conversion has {endpoint.events.map((e) => EVENT_WORDS[e]).join(', ')}
        </span>
      </p>
      {!endpoint.enabled && endpoint.disabledReason && (
        <p class="hint">Turned off: {endpoint.disabledReason}</p>
      )}
      {endpoint.failingSince && (
        <p class="problem">Failing since {new Date(endpoint.failingSince).toLocaleString()}</p>
      )}
      {problem && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
      <p class="notice" role="status">
        {notice}
      </p>
      <div class="actions">
        <button
          type="button"
          class="secondary"
          disabled={busy || waitingFor !== undefined}
          aria-label={`Send test to ${endpoint.url}`}
          onClick={() => void test()}
        >
          Send test
        </button>
        <button
          type="button"
          class="secondary"
          disabled={busy}
          aria-label={`${endpoint.enabled ? 'Turn off' : 'Turn on'} ${endpoint.url}`}
          onClick={() => void setEnabled(!endpoint.enabled)}
        >
          {endpoint.enabled ? 'Turn off' : 'Turn on'}
        </button>
        {deliveries === undefined && (
          <button
            type="button"
            class="secondary"
            aria-label={`Show deliveries to ${endpoint.url}`}
            onClick={() => void fetchDeliveries()}
          >
            Show deliveries
          </button>
        )}
        {confirmingRemove ? (
          <>
            <button
              key="confirm-remove"
              ref={confirmButton}
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => void remove()}
            >
              Yes, remove {endpoint.url}
            </button>
            <button
              key="keep"
              type="button"
              class="secondary"
              onClick={() => setConfirmingRemove(false)}
            >
              Keep it
            </button>
          </>
        ) : (
          <button
            key="remove"
            ref={removeButton}
            type="button"
            class="secondary"
            aria-label={`Remove ${endpoint.url}`}
            onClick={() => setConfirmingRemove(true)}
          >
            Remove
          </button>
        )}
      </div>
      {deliveries && <Deliveries url={endpoint.url} deliveries={deliveries} />}
    </li>
  );
}

/** The last deliveries, newest first, each with its attempts, oldest first. */
function Deliveries({
  url,
  deliveries,
}: {
  url: string;
  deliveries: readonly WebhookDeliveryFieldsFragment[];
}) {
  if (deliveries.length === 0) return <p class="hint">No deliveries yet.</p>;
  return (
    <ul class="deliveries" aria-label={`Last deliveries to ${url}`}>
      {deliveries.map((delivery) => (
        <li key={delivery.id} data-delivery-status={delivery.status}>
          <span class={`badge ${delivery.status.toLowerCase()}`}>
            {DELIVERY_WORDS[delivery.status]}
          </span>{' '}
          {delivery.type} <span class="hint">{new Date(delivery.createdAt).toLocaleString()}</span>
          {delivery.attempts.length > 0 && (
            <ol class="attempts">
              {delivery.attempts.map((attempt) => (
                <li key={attempt.at}>
                  {new Date(attempt.at).toLocaleTimeString()}: {describeAttempt(attempt)}
                </li>
              ))}
            </ol>
          )}
          {delivery.status === 'PENDING' && delivery.nextAttemptAt && (
            <p class="hint">
              Next attempt at {new Date(delivery.nextAttemptAt).toLocaleTimeString()}
            </p>
          )}
        </li>
      ))}
    </ul>
  );
}
