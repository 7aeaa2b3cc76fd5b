import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ReelfluxClient,
  WebhookDelivery,
  WebhookEndpointWithSecret,
} from '../../createReelfluxClient.js';
import { notificationEvents, one, positiveInt } from '../arguments.js';
import type { Command } from '../Command.js';
import {
  describeWebhookAttempt,
  describeWebhookDelivery,
  isAccepted,
} from '../describeWebhookDelivery.js';
import { describeWebhookEndpoint, formatTime } from '../describeWebhookEndpoint.js';
import { EXIT } from '../exitCodes.js';

/**
 * How long `webhooks test` waits for the receiver's answer: longer than the sender's own
 * limit for one attempt (10 s by default), so a receiver that never answers shows as a timeout.
 */
const TEST_WAIT_MS = 15_000;
/** The longest pause between two looks at the test delivery. */
const POLL_MAX_MS = 1_000;

/** The secret, and that there is no second chance to copy it. */
function describeSecret(payload: WebhookEndpointWithSecret): string {
  return `secret: ${payload.secret}
This secret will not be shown again: store it now (\`reelflux webhooks rotate ${payload.endpoint.id}\` makes a new one).`;
}

export const webhooksAdd: Command = {
  name: 'webhooks add',
  synopsis: '<url> [--events succeeded,failed,cancelled]',
  summary: 'a new endpoint (default: every event); its signing secret, printed once',
  async run({ client, values, args, print }) {
    const url = one(args, 'webhooks add needs a URL');
    const events = values.events === undefined ? undefined : notificationEvents(values.events);
    const added = await client.addWebhookEndpoint(url, events);
    print(`${describeWebhookEndpoint(added.endpoint)}\n${describeSecret(added)}`, added);
    return EXIT.OK;
  },
};

export const webhooksLs: Command = {
  name: 'webhooks ls',
  synopsis: '',
  summary: 'your webhook endpoints: state, events, URL, failures',
  async run({ client, print }) {
    const endpoints = await client.webhookEndpoints();
    print(
      endpoints.map((e) => describeWebhookEndpoint(e)).join('\n') || '(no webhook endpoints)',
      endpoints,
    );
    return EXIT.OK;
  },
};

export const webhooksRm: Command = {
  name: 'webhooks rm',
  synopsis: '<endpoint-id>',
  summary: 'remove an endpoint; its pending deliveries are dropped',
  async run({ client, args, print }) {
    const id = one(args, 'webhooks rm needs an endpoint id');
    await client.removeWebhookEndpoint(id);
    print(`Removed ${id}`, { id, removed: true });
    return EXIT.OK;
  },
};

/** `webhooks enable` and `webhooks disable`: the same change, either way. */
function switchCommand(enabled: boolean, summary: string): Command {
  const name = enabled ? 'enable' : 'disable';
  return {
    name: `webhooks ${name}`,
    synopsis: '<endpoint-id>',
    summary,
    async run({ client, args, print }) {
      const id = one(args, `webhooks ${name} needs an endpoint id`);
      const endpoint = await client.updateWebhookEndpoint(id, { enabled });
      print(describeWebhookEndpoint(endpoint), endpoint);
      return EXIT.OK;
    },
  };
}

export const webhooksEnable = switchCommand(
  true,
  'turn an endpoint back on (its failures are forgotten)',
);
export const webhooksDisable = switchCommand(false, 'turn an endpoint off');

export const webhooksTest: Command = {
  name: 'webhooks test',
  synopsis: '<endpoint-id>',
  summary: `send a signed webhook.test; wait up to ${TEST_WAIT_MS / 1000} s for the answer`,
  async run({ client, args, progress, print }) {
    const id = one(args, 'webhooks test needs an endpoint id');
    const sent = await client.testWebhookEndpoint(id);
    progress.note('test', `delivery ${sent.id} sent, waiting for the answer`);
    const delivery = await firstAttemptOf(client, id, sent, TEST_WAIT_MS);
    const attempt = delivery.attempts[0];
    if (!attempt) {
      print(
        `${delivery.id}  no attempt within ${TEST_WAIT_MS / 1000} s: \`reelflux webhooks deliveries ${id}\` shows it later`,
        delivery,
      );
      return EXIT.FAILED;
    }
    const next =
      delivery.status === 'PENDING' && delivery.nextAttemptAt
        ? `; next attempt at ${formatTime(delivery.nextAttemptAt)}`
        : '';
    print(`${delivery.id}  ${describeWebhookAttempt(attempt)}${next}`, delivery);
    return isAccepted(attempt) ? EXIT.OK : EXIT.FAILED;
  },
};

/**
 * The delivery once it has an attempt, or as it stands after `timeoutMs`. It is looked up
 * among the endpoint's newest deliveries, often at first and then once a second.
 */
async function firstAttemptOf(
  client: ReelfluxClient,
  endpointId: string,
  sent: WebhookDelivery,
  timeoutMs: number,
): Promise<WebhookDelivery> {
  const deadline = Date.now() + timeoutMs;
  let latest = sent;
  for (let round = 0; ; round++) {
    latest = (await client.webhookDeliveries(endpointId)).find((d) => d.id === sent.id) ?? latest;
    const left = deadline - Date.now();
    if (latest.attempts.length > 0 || left <= 0) return latest;
    await sleep(Math.min(POLL_MAX_MS, 250 * 2 ** round, left));
  }
}

export const webhooksRotate: Command = {
  name: 'webhooks rotate',
  synopsis: '<endpoint-id>',
  summary: 'a new signing secret, printed once; the old one signs too for 24 h',
  async run({ client, args, print }) {
    const rotated = await client.rotateWebhookSecret(
      one(args, 'webhooks rotate needs an endpoint id'),
    );
    print(`${describeWebhookEndpoint(rotated.endpoint)}\n${describeSecret(rotated)}`, rotated);
    return EXIT.OK;
  },
};

export const webhooksDeliveries: Command = {
  name: 'webhooks deliveries',
  synopsis: '<endpoint-id> [--limit N]',
  summary: "an endpoint's deliveries, newest first, with their attempts",
  async run({ client, values, args, print }) {
    const deliveries = await client.webhookDeliveries(
      one(args, 'webhooks deliveries needs an endpoint id'),
      positiveInt(values.limit ?? '20', 'limit'),
    );
    print(deliveries.map(describeWebhookDelivery).join('\n') || '(no deliveries)', deliveries);
    return EXIT.OK;
  },
};

export const webhooksReplay: Command = {
  name: 'webhooks replay',
  synopsis: '<delivery-id>',
  summary: 'send a delivery again now, under the same webhook-id',
  async run({ client, args, print }) {
    const delivery = await client.replayWebhookDelivery(
      one(args, 'webhooks replay needs a delivery id'),
    );
    print(describeWebhookDelivery(delivery), delivery);
    return EXIT.OK;
  },
};

/** Every `reelflux webhooks …` command, in the order the help lists them. */
export const WEBHOOK_COMMANDS: readonly Command[] = [
  webhooksAdd,
  webhooksLs,
  webhooksRm,
  webhooksEnable,
  webhooksDisable,
  webhooksTest,
  webhooksRotate,
  webhooksDeliveries,
  webhooksReplay,
];
