import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMailpit, type MailCatcher } from '../scripts/infrastructure/ensureMailpit.js';
import { conversionMail } from '../subgraphs/notification/email/composeMail.js';
import { createMailer } from '../subgraphs/notification/email/createMailer.js';
import { launchTestBrowser, type TestBrowser } from './helpers/browser.js';
import { readMail } from './helpers/mailpit.js';
import { uniqueName } from './helpers/uniqueName.js';

/**
 * What a newcomer does after `npm start`: open the local mail server in a browser and read the
 * mail the stack sent. Mailpit's web UI is built by our build of it (ensureMailpit.ts); without
 * that build its page loads without a script and shows no message.
 */
describe("Mailpit's web page", () => {
  let mail: MailCatcher;
  let browser: TestBrowser;

  beforeAll(async () => {
    mail = await ensureMailpit(process.env, (line) =>
      process.stdout.write(`mail web test | ${line}\n`),
    );
    if (!mail.webUrl)
      throw new Error('SMTP_URL is set without MAILPIT_URL: no web page to read mail in');
    browser = await launchTestBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await mail?.stop();
  });

  it('lists a notification mail and opens it to its text', async () => {
    const to = `${uniqueName('web')}@reelflux.test`;
    const filename = `${uniqueName('holiday')}.mp4`;
    const mailer = createMailer({ smtpUrl: mail.smtpUrl, from: 'REELFLUX <notify@reelflux.test>' });
    try {
      await mailer.send(
        conversionMail({
          to,
          filename,
          status: 'SUCCEEDED',
          errorCode: null,
          pageUrl: 'https://reelflux.test/videos/v1',
          unsubscribeUrl: `https://reelflux.test/notifications/unsubscribe?token=${uniqueName('u')}`,
        }),
      );
    } finally {
      mailer.close();
    }
    await readMail(mail.webUrl, to);

    const page = await browser.context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
    });
    // The search box narrows the list to this test's mail; Mailpit keeps earlier runs' mail.
    await page.goto(`${mail.webUrl}/search?q=${encodeURIComponent(`to:${to}`)}`);
    const listed = page.getByText(`${filename} is ready as an MP3`).first();
    await listed.waitFor({ timeout: 15_000 });
    await listed.click();
    // The message view shows the HTML part in a frame and names the recipient.
    await expect
      .poll(
        async () => {
          for (const frame of page.frames()) {
            const text = await frame.textContent('body').catch(() => null);
            if (text?.includes(`${filename}: your MP3 is ready`)) return true;
          }
          return false;
        },
        { timeout: 15_000 },
      )
      .toBe(true);
    await page.getByText(to).filter({ visible: true }).first().waitFor({ timeout: 5_000 });
    expect(failures).toEqual([]);
    await page.close();
  });
});
