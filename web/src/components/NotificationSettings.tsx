import type { Api } from '../api/createApi.js';
import { EmailSettings } from './EmailSettings.js';
import { PushSettings } from './PushSettings.js';
import { WebhookSettings } from './WebhookSettings.js';

/** "Notifications": the three ways to hear that a conversion ended: mail, this browser, webhooks. */
export function NotificationSettings({ api }: { api: Api }) {
  return (
    <section class="panel" aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Notifications</h2>
      <EmailSettings api={api} />
      <PushSettings api={api} />
      <WebhookSettings api={api} />
    </section>
  );
}
