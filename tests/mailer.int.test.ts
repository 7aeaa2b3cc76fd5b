import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMailpit, type MailCatcher } from '../scripts/infrastructure/ensureMailpit.js';
import { conversionMail } from '../subgraphs/notification/email/composeMail.js';
import { createMailer, type Mailer } from '../subgraphs/notification/email/createMailer.js';
import { readMail } from './helpers/mailpit.js';
import { uniqueName } from './helpers/uniqueName.js';

/**
 * The notification mail over real SMTP: createMailer sends to Mailpit (started for this file
 * unless one already runs, or SMTP_URL with MAILPIT_URL names another), and the mail is read
 * back through Mailpit's API as a mail client would get it.
 */
describe('createMailer against Mailpit', () => {
  let mail: MailCatcher;
  let mailer: Mailer;

  beforeAll(async () => {
    mail = await ensureMailpit(process.env, (line) =>
      process.stdout.write(`mailer test | ${line}\n`),
    );
    if (!mail.webUrl)
      throw new Error('SMTP_URL is set without MAILPIT_URL: nothing to read mail from');
    mailer = createMailer({ smtpUrl: mail.smtpUrl, from: 'REELFLUX <notify@reelflux.test>' });
  }, 300_000);

  afterAll(async () => {
    mailer?.close();
    await mail?.stop();
  });

  it('delivers a conversion mail with both parts and the one-click unsubscribe headers', async () => {
    const to = `${uniqueName('mail')}@reelflux.test`;
    const unsubscribeUrl = `https://reelflux.test/notifications/unsubscribe?token=${uniqueName('u')}`;
    await mailer.send(
      conversionMail({
        to,
        filename: '<b>holiday</b>.mp4',
        status: 'SUCCEEDED',
        errorCode: null,
        pageUrl: 'https://reelflux.test/videos/v1',
        unsubscribeUrl,
      }),
    );

    const received = await readMail(mail.webUrl, to);
    expect(received.subject).toBe('<b>holiday</b>.mp4 is ready as an MP3');
    expect(received.to).toEqual([to]);
    expect(received.from).toBe('notify@reelflux.test');
    expect(received.text).toContain('<b>holiday</b>.mp4: your MP3 is ready.');
    expect(received.text).toContain('https://reelflux.test/videos/v1');
    expect(received.html).toContain('&#60;b&#62;holiday&#60;/b&#62;.mp4');
    expect(received.html).not.toContain('<b>holiday');
    expect(received.html).toContain('href="https://reelflux.test/videos/v1"');
    expect(received.headers['List-Unsubscribe']).toEqual([`<${unsubscribeUrl}>`]);
    expect(received.headers['List-Unsubscribe-Post']).toEqual(['List-Unsubscribe=One-Click']);
  });

  it('sends several at once over the pool, each to its own address', async () => {
    const addresses = Array.from(
      { length: 5 },
      (_, i) => `${uniqueName(`pool${i}`)}@reelflux.test`,
    );
    await Promise.all(
      addresses.map((to, i) =>
        mailer.send({ to, subject: `number ${i}`, text: `text ${i}`, html: `<p>html ${i}</p>` }),
      ),
    );
    const received = await Promise.all(addresses.map((to) => readMail(mail.webUrl, to)));
    expect(received.map((one) => one.subject)).toEqual(addresses.map((_, i) => `number ${i}`));
  });

  it('rejects with the SMTP error when the server refuses the mail', async () => {
    // Mailpit refuses an address of more than 1024 characters at RCPT TO.
    const refused = `${'x'.repeat(1100)}@reelflux.test`;
    await expect(
      mailer.send({ to: refused, subject: 'refused', text: 'refused', html: '<p>refused</p>' }),
    ).rejects.toMatchObject({ responseCode: 500, permanent: true });
  });
});
