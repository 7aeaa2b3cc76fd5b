import { describe, expect, it } from 'vitest';
import {
  endpointDisabledMail,
  conversionMail,
  newVerificationCode,
  verificationMail,
} from '../subgraphs/notification/email/composeMail.js';

const finished = {
  to: 'ada@example.com',
  filename: 'holiday.mp4',
  errorCode: null,
  pageUrl: 'https://reelflux.example/videos/v1',
  unsubscribeUrl: 'https://reelflux.example/notifications/unsubscribe?token=t%2Bk&kind=email',
} as const;

describe('conversionMail', () => {
  it('names the file and the outcome in the subject', () => {
    expect(conversionMail({ ...finished, status: 'SUCCEEDED' }).subject).toBe(
      'holiday.mp4 is ready as an MP3',
    );
    expect(
      conversionMail({ ...finished, status: 'FAILED', errorCode: 'MEDIA_TOO_LONG' }).subject,
    ).toBe('holiday.mp4 could not be converted');
    expect(conversionMail({ ...finished, status: 'CANCELLED' }).subject).toBe(
      'holiday.mp4 was not converted: the conversion was cancelled',
    );
  });

  it('gives the error code of a failure in both parts, and links the page', () => {
    const mail = conversionMail({ ...finished, status: 'FAILED', errorCode: 'MEDIA_TOO_LONG' });
    expect(mail.text).toContain('failed (error code MEDIA_TOO_LONG)');
    expect(mail.html).toContain('failed (error code MEDIA_TOO_LONG)');
    expect(mail.text).toContain(finished.pageUrl);
    expect(mail.html).toContain(`<a href="${finished.pageUrl}">`);
    expect(conversionMail({ ...finished, status: 'SUCCEEDED' }).text).not.toContain('error');
  });

  it('escapes the filename in the HTML part, and keeps it as typed in the text', () => {
    const filename = '<script>alert("x")</script>&.mp4';
    const mail = conversionMail({ ...finished, filename, status: 'SUCCEEDED' });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;.mp4');
    expect(mail.text).toContain(filename);
    expect(mail.subject).toBe(`${filename} is ready as an MP3`);
  });

  it('escapes the links it puts in attributes', () => {
    const mail = conversionMail({ ...finished, status: 'SUCCEEDED' });
    expect(mail.html).toContain(
      'href="https://reelflux.example/notifications/unsubscribe?token=t%2Bk&#38;kind=email"',
    );
  });

  it('keeps a line break in a filename out of the subject', () => {
    const mail = conversionMail({
      ...finished,
      filename: 'a\r\nBcc: x@y.z.mp4',
      status: 'SUCCEEDED',
    });
    expect(mail.subject).toBe('a Bcc: x@y.z.mp4 is ready as an MP3');
  });

  it('carries the RFC 8058 one-click unsubscribe headers, and the link in both parts', () => {
    for (const status of ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const) {
      const mail = conversionMail({ ...finished, status });
      expect(mail.headers).toEqual({
        'List-Unsubscribe': `<${finished.unsubscribeUrl}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      });
      expect(mail.text).toContain(finished.unsubscribeUrl);
      expect(mail.html).toContain('Stop these mails</a>');
    }
  });
});

describe('verificationMail', () => {
  it('gives the code and the link in both parts', () => {
    const mail = verificationMail({
      to: 'ada@example.com',
      code: '042917',
      verifyUrl: 'https://reelflux.example/notifications/verify?token=abc',
    });
    expect(mail).toMatchObject({
      to: 'ada@example.com',
      subject: 'Confirm your address for REELFLUX notifications',
    });
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('042917');
      expect(part).toContain('https://reelflux.example/notifications/verify?token=abc');
    }
    expect(mail.headers).toBeUndefined();
  });
});

describe('newVerificationCode', () => {
  it('is six digits, leading zeros kept, and varies', () => {
    const codes = Array.from({ length: 200 }, () => newVerificationCode());
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(190);
  });
});

describe('endpointDisabledMail', () => {
  it('names the endpoint, escaped, and links to where it is turned on again', () => {
    const mail = endpointDisabledMail({
      to: 'ada@example.com',
      url: 'https://hooks.example/in?a=1&b=<2>',
      pageUrl: 'https://reelflux.example/',
    });
    expect(mail.subject).toBe('A REELFLUX webhook endpoint was turned off');
    expect(mail.text).toContain('https://hooks.example/in?a=1&b=<2>');
    expect(mail.html).toContain('https://hooks.example/in?a=1&#38;b=&#60;2&#62;');
    expect(mail.html).not.toContain('<2>');
    expect(mail.html).toContain('href="https://reelflux.example/"');
  });
});
