import { randomBytes } from 'node:crypto';
import { ErrorCode, graphqlError } from '../../../lib/contracts/errors.js';
import { normalizeEmail } from '../../../lib/contracts/normalizeEmail.js';
import type { Logger } from '../../../lib/platform/logger.js';
import type { Route } from '../../../lib/server/http.js';
import { spendOrRefuse, type RateWindows } from '../../../lib/stores/createRateWindows.js';
import type { EmailSettingsConfig } from '../config.js';
import { skippedAttempt, type ChannelSender } from '../createDeliveryDispatcher.js';
import type { EndpointRecord } from '../createEndpointStore.js';
import type { NoticeType } from '../noticeTypes.js';
import {
  conversionMail,
  endpointDisabledMail,
  newVerificationCode,
  verificationMail,
  type FinishedStatus,
} from './composeMail.js';
import { createEmailRoutes } from './createEmailRoutes.js';
import type { EmailSettings, EmailStore } from './createEmailStore.js';
import type { Mailer } from './createMailer.js';

/** A user's notification mail: their address, its proof, their choices, and the sending. */
export interface EmailChannel {
  /** Saves `address` unproven and mails it a code and a link; nothing else goes there until then. */
  setAddress(owner: string, address: string): Promise<EmailSettings>;
  /** BAD_USER_INPUT when the code is wrong, expired or out of tries. */
  verify(owner: string, code: string): Promise<EmailSettings>;
  update(
    owner: string,
    change: { enabled?: boolean; events?: NoticeType[] },
  ): Promise<EmailSettings>;
  /** One notice mailed to its owner's verified address. */
  send: ChannelSender;
  /** Tells an endpoint's owner, if they have a verified address, that it was turned off. */
  tellEndpointDisabled(this: void, endpoint: EndpointRecord): Promise<void>;
  /** `/notifications/verify` (the link in a verification mail) and `/notifications/unsubscribe`. */
  routes: Route[];
}

/**
 * Mail goes only to an address its owner proved, by the code or the link a verification mail
 * carries: anyone can sign up with someone else's address, and must not be able to mail it.
 * Verification mails count against the user's mutations per minute and every mail against
 * their mails per hour (`EMAILS_PER_HOUR`); a notice past that is dropped, not delayed. Without
 * SMTP (`SMTP_URL` unset), addresses are refused as unavailable and notices dropped.
 */
export function createEmailChannel(deps: {
  store: EmailStore;
  mailer: Mailer | undefined;
  rates: RateWindows;
  settings: EmailSettingsConfig;
  publicUrl: string;
  log: Logger;
}): EmailChannel {
  const { store, rates, settings, publicUrl } = deps;
  const link = (path: string, token: string) =>
    `${publicUrl}/notifications/${path}?token=${encodeURIComponent(token)}`;
  const mailer = () =>
    deps.mailer ??
    (() => {
      throw graphqlError(ErrorCode.SERVICE_UNAVAILABLE, 'Email is not configured here');
    })();
  const withinHourlyMail = async (owner: string) =>
    (await rates.take(`emails:${owner}`, { max: settings.perHour, windowSeconds: 3600 })) === 0;
  /** Why a notice is not mailed (and is dropped), or null when it may go. */
  const whyNotMailed = async (target: EmailSettings | null, owner: string) => {
    if (!deps.mailer) return 'email is not configured';
    if (!target?.verified) return 'address not verified';
    if (!target.enabled) return 'email notifications turned off';
    if (!(await withinHourlyMail(owner))) return 'over the hourly mail limit';
    return null;
  };

  return {
    async setAddress(owner, raw) {
      const address = normalizeEmail(raw);
      if (!address) {
        throw graphqlError(ErrorCode.BAD_USER_INPUT, 'This is not an email address', {
          field: 'address',
          reason: 'INVALID_EMAIL',
        });
      }
      const sender = mailer();
      await spendOrRefuse(
        rates,
        `emails:${owner}`,
        { max: settings.perHour, windowSeconds: 3600 },
        'mails this hour',
      );
      const code = newVerificationCode();
      const token = randomBytes(24).toString('base64url');
      const saved = await store.setAddress(owner, address, code, token);
      await sender.send(verificationMail({ to: address, code, verifyUrl: link('verify', token) }));
      return saved;
    },
    async verify(owner, code) {
      const verified = await store.verifyCode(owner, code.trim());
      if (!verified) {
        throw graphqlError(
          ErrorCode.BAD_USER_INPUT,
          'The code is wrong or expired: ask for a new one by setting the address again',
          { field: 'code' },
        );
      }
      return verified;
    },
    async update(owner, change) {
      const updated = await store.update(owner, change);
      if (!updated) {
        throw graphqlError(ErrorCode.NOT_FOUND, 'Set a notification address first');
      }
      return updated;
    },
    async send(delivery) {
      const target = await store.findById(delivery.targetId);
      const why = await whyNotMailed(target, delivery.owner);
      if (why !== null || !target) return { attempt: skippedAttempt(why ?? ''), result: 'dropped' };
      const at = new Date();
      const started = performance.now();
      const message = conversionMail({
        to: target.address,
        filename: delivery.filename ?? 'your video',
        status: (delivery.status ?? 'FAILED') as FinishedStatus,
        errorCode: delivery.errorCode,
        pageUrl: `${publicUrl}/`,
        unsubscribeUrl: link('unsubscribe', target.unsubscribeToken),
      });
      const attempt = (error: string | null) => ({
        at,
        statusCode: null,
        durationMs: Math.round(performance.now() - started),
        error,
        responseHead: '',
      });
      try {
        await mailer().send(message);
        return { attempt: attempt(null), result: 'delivered' };
      } catch (error) {
        return { attempt: attempt((error as Error).message.slice(0, 1024)), result: 'failed' };
      }
    },
    async tellEndpointDisabled(endpoint) {
      const target = await store.forOwner(endpoint.owner);
      if (!deps.mailer || !target?.verified) return;
      await deps.mailer.send(
        endpointDisabledMail({ to: target.address, url: endpoint.url, pageUrl: `${publicUrl}/` }),
      );
    },
    routes: createEmailRoutes(store),
  };
}
