import { createTransport } from 'nodemailer';

/** One mail, composed (composeMail.ts) and ready to send: a plain-text part and an HTML part. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers, such as List-Unsubscribe; names as they go on the wire. */
  headers?: Record<string, string>;
}

export interface Mailer {
  /**
   * Resolves once the SMTP server has accepted the message. Rejects with nodemailer's error:
   * `responseCode` and `response` are the server's reply and `permanent` tells a 5xx refusal
   * from a 4xx one (none of them is set when the server could not be reached), so the caller
   * can decide whether a retry may succeed.
   */
  send(message: MailMessage): Promise<void>;
  /**
   * Closes the pooled connections: a message being delivered still finishes, and a send still
   * waiting for a connection rejects ("Connection pool was closed").
   */
  close(): void;
}

/**
 * A mailer on a pool of SMTP connections to `smtpUrl` (`smtp://` or `smtps://`, credentials in
 * the URL, as nodemailer parses it), sending every message as `from`. A pool, so a burst of
 * notifications reuses a few connections instead of opening one per message.
 */
export function createMailer(options: { smtpUrl: string; from: string }): Mailer {
  const transport = createTransport({ url: options.smtpUrl, pool: true });
  return {
    async send(message) {
      await transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: message.headers ?? {},
      });
    },
    close() {
      transport.close();
    },
  };
}
