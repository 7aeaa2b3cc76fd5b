import { randomInt } from 'node:crypto';
import type { MailMessage } from './createMailer.js';

// The mails of the notification subgraph, composed here and sent by createMailer.ts. A filename
// is its uploader's text: every value is escaped in the HTML part.

/** A code a person types back: six digits, from the system's CSPRNG, zeros kept. */
export function newVerificationCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0');
}

/** The mail that proves an address is its owner's before any notification goes to it. */
export function verificationMail(input: {
  to: string;
  code: string;
  verifyUrl: string;
}): MailMessage {
  const { code, verifyUrl } = input;
  const ignore =
    'If you did not ask for REELFLUX notifications, ignore this mail: nothing more is sent to this address unless it is confirmed.';
  return {
    to: input.to,
    subject: 'Confirm your address for REELFLUX notifications',
    text: [
      `Your confirmation code is ${code}.`,
      '',
      `Type it where you asked for notifications, or open this link:`,
      verifyUrl,
      '',
      ignore,
      '',
    ].join('\n'),
    html: page([
      `<p>Your confirmation code is</p>`,
      `<p style="font-size:28px;font-weight:bold;letter-spacing:4px">${escapeHtml(code)}</p>`,
      `<p>Type it where you asked for notifications, or ${link(verifyUrl, 'confirm this address')}.</p>`,
      `<p style="color:#666">${escapeHtml(ignore)}</p>`,
    ]),
  };
}

export type FinishedStatus = 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/**
 * The mail sent when a conversion has finished. It carries the RFC 8058 one-click unsubscribe
 * headers, so mail clients offer their own unsubscribe button (which POSTs to
 * `unsubscribeUrl`); large mailbox providers ask bulk senders for them.
 */
export function conversionMail(input: {
  to: string;
  filename: string;
  status: FinishedStatus;
  errorCode: string | null;
  pageUrl: string;
  unsubscribeUrl: string;
}): MailMessage {
  const filename = withoutControls(input.filename);
  const outcome = describeOutcome(input.status, input.errorCode);
  const why =
    'You get this mail because you asked REELFLUX to tell you when your conversions finish.';
  return {
    to: input.to,
    subject: `${filename} ${outcome.subject}`,
    text: [
      `${filename}: ${outcome.sentence}`,
      '',
      `${outcome.action}: ${input.pageUrl}`,
      '',
      `${why} To stop these mails: ${input.unsubscribeUrl}`,
      '',
    ].join('\n'),
    html: page([
      `<p><strong>${escapeHtml(filename)}</strong>: ${escapeHtml(outcome.sentence)}</p>`,
      `<p>${link(input.pageUrl, outcome.action)}</p>`,
      `<p style="color:#666">${escapeHtml(why)} ${link(input.unsubscribeUrl, 'Stop these mails')}.</p>`,
    ]),
    headers: {
      'List-Unsubscribe': `<${input.unsubscribeUrl}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  };
}

/** The mail that tells an owner their webhook endpoint was turned off after days of failures. */
export function endpointDisabledMail(input: {
  to: string;
  url: string;
  pageUrl: string;
}): MailMessage {
  const sentence =
    'Every attempt to this webhook endpoint failed for days, so REELFLUX turned it off';
  return {
    to: input.to,
    subject: 'A REELFLUX webhook endpoint was turned off',
    text: `${sentence}: ${input.url}\n\nTurn it on again once it answers: ${input.pageUrl}\n`,
    html: page([
      `<p>${escapeHtml(sentence)}: <code>${escapeHtml(input.url)}</code></p>`,
      `<p>${link(input.pageUrl, 'Turn it on again')} once it answers.</p>`,
    ]),
  };
}

function describeOutcome(
  status: FinishedStatus,
  errorCode: string | null,
): { subject: string; sentence: string; action: string } {
  const code = errorCode === null ? '' : ` (error code ${withoutControls(errorCode)})`;
  switch (status) {
    case 'SUCCEEDED':
      return {
        subject: 'is ready as an MP3',
        sentence: 'your MP3 is ready.',
        action: 'Download it',
      };
    case 'FAILED':
      return {
        subject: 'could not be converted',
        sentence: `the conversion to MP3 failed${code}.`,
        action: 'See the video',
      };
    case 'CANCELLED':
      return {
        subject: 'was not converted: the conversion was cancelled',
        sentence: `the conversion to MP3 was cancelled${code}.`,
        action: 'See the video',
      };
  }
}

function page(paragraphs: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html><body style="font-family:sans-serif;line-height:1.5">',
    ...paragraphs,
    '</body></html>',
    '',
  ].join('\n');
}

function link(url: string, label: string): string {
  return `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

// Media already strips control characters from the names it keeps (cleanFilename.ts); these
// functions take any string all the same, and a line break must not reach a subject line.
function withoutControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
