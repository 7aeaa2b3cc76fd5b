import type { ServerResponse } from 'node:http';
import type { Route } from '../../../lib/server/http.js';
import type { EmailStore } from './createEmailStore.js';

/**
 * What a mail's links open, relayed by the router: `/notifications/verify` (the link of a
 * verification mail) and `/notifications/unsubscribe` (RFC 8058 one-click).
 */
export function createEmailRoutes(store: EmailStore): Route[] {
  return [
    {
      methods: ['GET'],
      path: '/notifications/verify',
      handler: async (req, res) => {
        const token = new URL(req.url ?? '/', 'http://x.invalid').searchParams.get('token');
        const verified = token ? await store.verifyToken(token) : null;
        sendPage(
          res,
          verified ? 200 : 400,
          verified
            ? `${verified.address} is confirmed: REELFLUX notifications will come here.`
            : 'This link is wrong or expired. Set the address again for a new one.',
        );
      },
    },
    {
      // RFC 8058: mail clients POST `List-Unsubscribe=One-Click` here; people who click the
      // link in the mail GET a page whose button POSTs the same.
      methods: ['GET', 'POST'],
      path: '/notifications/unsubscribe',
      handler: async (req, res) => {
        const token = new URL(req.url ?? '/', 'http://x.invalid').searchParams.get('token') ?? '';
        if (req.method === 'GET') {
          sendPage(res, 200, 'Stop REELFLUX notification mails to this address?', token);
          return;
        }
        const done = token ? await store.unsubscribe(token) : null;
        sendPage(
          res,
          done ? 200 : 400,
          done ? 'No more notification mails will be sent.' : 'This link is wrong.',
        );
      },
    },
  ];
}

/** A page of one sentence (and, with `token`, a button that POSTs it back). */
function sendPage(res: ServerResponse, status: number, sentence: string, token?: string): void {
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const form =
    token === undefined
      ? ''
      : `<form method="post" action="?token=${encodeURIComponent(token)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button>Unsubscribe</button></form>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; form-action 'self'",
  });
  res.end(`<!DOCTYPE html><title>REELFLUX</title><p>${escape(sentence)}</p>${form}\n`);
}
