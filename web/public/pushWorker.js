// The page's service worker: shows what the server pushes (subgraphs/notification/push) as a
// notification, and brings the page to the front when one is clicked. Plain JavaScript,
// because Vite copies web/public/ into the build as it is.

/**
 * The title when a push cannot be read: it still shows a notification, as browsers require one
 * for every push (Chromium otherwise shows its own, "updated in the background").
 */
const FALLBACK_TITLE = 'REELFLUX';

/**
 * `url` made absolute when it is on this origin, else the page's home: a notification never
 * sends the user elsewhere, whatever its payload says.
 * @param {unknown} url
 * @returns {string}
 */
function pageUrl(url) {
  const home = new URL('/', self.location.origin).href;
  if (typeof url !== 'string' || !URL.canParse(url, home)) return home;
  const parsed = new URL(url, home);
  return parsed.origin === self.location.origin ? parsed.href : home;
}

/**
 * The payload `{ title, body, url }`, as far as it can be read.
 * @param {PushMessageData | null} data
 * @returns {{ title: string, body: string, url: string }}
 */
function readMessage(data) {
  let message;
  try {
    message = data?.json();
  } catch {
    message = null;
  }
  if (typeof message !== 'object' || message === null) message = {};
  return {
    title: typeof message.title === 'string' && message.title ? message.title : FALLBACK_TITLE,
    body: typeof message.body === 'string' ? message.body : '',
    url: pageUrl(message.url),
  };
}

/**
 * A window already showing `url` comes to the front; else a new one opens at it.
 * @param {string} url
 */
async function focusOrOpen(url) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const showing = windows.find((client) => client.url === url);
  if (showing) return showing.focus();
  return self.clients.openWindow(url);
}

self.addEventListener('push', (event) => {
  const { title, body, url } = readMessage(event.data);
  event.waitUntil(self.registration.showNotification(title, { body, data: { url } }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(focusOrOpen(pageUrl(event.notification.data?.url)));
});

// Nothing is cached and no request goes through the worker, so a new version can take over
// at once rather than wait for every tab to close.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
