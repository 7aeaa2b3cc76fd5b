import { useEffect, useState } from 'preact/hooks';
import {
  AddPushSubscriptionDocument,
  PushSubscriptionsDocument,
  RemovePushSubscriptionDocument,
  VapidPublicKeyDocument,
} from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api } from '../api/createApi.js';
import { StatusLines } from './StatusLines.js';

/** The page's service worker, served by the router from web/public/pushWorker.js. */
const PUSH_WORKER = '/pushWorker.js';

/**
 * How long the browser's push service has to take a subscription. Where it cannot be reached,
 * Chromium's `subscribe()` neither resolves nor rejects for minutes.
 */
const SUBSCRIBE_TIMEOUT_MS = 15_000;

/** Whether this browser can take pushes at all (not, say, an older Safari or a private window). */
function canPush(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** This browser's push subscription, if it has one (without registering anything). */
async function currentSubscription(): Promise<PushSubscription | null> {
  const registration = await navigator.serviceWorker.getRegistration('/');
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/**
 * This browser's subscription at its push service, or null when the service refused it or did
 * not answer in time (an answer that comes later is undone, leaving the browser as it was).
 */
async function subscribeAtPushService(
  registration: ServiceWorkerRegistration,
  applicationServerKey: string,
): Promise<PushSubscription | null> {
  const asked = registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), SUBSCRIBE_TIMEOUT_MS);
  });
  try {
    const subscription = await Promise.race([asked, late]);
    if (subscription === null)
      void asked.then(
        (s) => s.unsubscribe(),
        () => false,
      );
    return subscription;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * "Notify me in this browser": registers the page's service worker, asks for permission to show
 * notifications, subscribes at the browser's push service with the server's VAPID key and hands
 * the subscription to the API; "Stop" undoes both. Shown only where the server has push set up
 * and the browser can take pushes.
 */
export function PushSettings({ api }: { api: Api }) {
  const [key, setKey] = useState<string | null>(null);
  /** The API's id for this browser's subscription; null when this browser is not subscribed. */
  const [subscribed, setSubscribed] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [notice, setNotice] = useState<string>();

  useEffect(() => {
    if (!canPush()) return;
    void (async () => {
      const [vapid, listed, mine] = await Promise.all([
        api.request(VapidPublicKeyDocument, {}),
        api.request(PushSubscriptionsDocument, {}),
        currentSubscription().catch(() => null),
      ]);
      setKey(vapid.data?.vapidPublicKey ?? null);
      const known = listed.data?.pushSubscriptions.find((s) => s.endpoint === mine?.endpoint);
      setSubscribed(known?.id ?? null);
    })();
  }, [api]);

  /** Subscribes this browser; returns why it could not, or undefined. */
  const subscribe = async (applicationServerKey: string): Promise<string | undefined> => {
    const registration = await navigator.serviceWorker.register(PUSH_WORKER);
    if ((await Notification.requestPermission()) !== 'granted') {
      return 'Notifications are blocked for this page. Allow them in the browser’s site settings, then try again.';
    }
    await navigator.serviceWorker.ready;
    const subscription = await subscribeAtPushService(registration, applicationServerKey);
    if (!subscription) {
      return 'This browser could not sign up with its push service (it may be unreachable, or push turned off in the browser), so it cannot be notified.';
    }
    const { endpoint = '', keys = {} } = subscription.toJSON();
    const result = await api.request(AddPushSubscriptionDocument, {
      subscription: { endpoint, keys: { p256dh: keys.p256dh ?? '', auth: keys.auth ?? '' } },
    });
    if (result.error) {
      // The server will not send there: leave the browser as it was.
      await subscription.unsubscribe().catch(() => false);
      return describeApiError(result.error);
    }
    setSubscribed(result.data.addPushSubscription.id);
    setNotice('This browser will show a notification when a conversion ends.');
    return undefined;
  };

  const start = async () => {
    if (!key) return;
    setBusy(true);
    setProblem(undefined);
    setNotice(undefined);
    try {
      setProblem(await subscribe(key));
    } catch {
      setProblem('This browser could not start the page’s notification worker.');
    } finally {
      setBusy(false);
    }
  };

  const stop = async () => {
    setBusy(true);
    setProblem(undefined);
    setNotice(undefined);
    await (await currentSubscription().catch(() => null))?.unsubscribe().catch(() => false);
    const result = subscribed
      ? await api.request(RemovePushSubscriptionDocument, { id: subscribed })
      : undefined;
    setBusy(false);
    if (result?.error) {
      setProblem(describeApiError(result.error));
      return;
    }
    setSubscribed(null);
    setNotice('This browser will not be notified any more.');
  };

  if (!key) return null;
  return (
    <div class="channel" role="group" aria-labelledby="push-heading">
      <h3 id="push-heading">This browser</h3>
      <p class="status">
        <span class={`badge ${subscribed ? 'enabled' : 'disabled'}`}>
          {subscribed ? 'On' : 'Off'}
        </span>{' '}
        <span class="hint">
          A notification here when a conversion ends, even with the page closed.
        </span>
      </p>
      <div class="actions">
        {subscribed ? (
          <button type="button" class="secondary" disabled={busy} onClick={() => void stop()}>
            Stop
          </button>
        ) : (
          <button type="button" disabled={busy} onClick={() => void start()}>
            Notify me in this browser
          </button>
        )}
      </div>
      <StatusLines notice={notice} problem={problem} />
    </div>
  );
}
