import { GraphQLError } from 'graphql';
import { ErrorCode } from '../../lib/contracts/errors.js';
import type { InternalHop } from '../../lib/server/createInternalHop.js';
import { routerOnly } from '../../lib/server/createSubgraphServer.js';
import {
  clientAddress,
  sendError,
  sendJson,
  type Route,
  type RouteHandler,
} from '../../lib/server/http.js';
import type { Accounts } from './createAccounts.js';

const CHALLENGE = 'Basic realm="reelflux", charset="UTF-8"';

/**
 * `POST /auth/login` with HTTP Basic credentials → `{ token, expiresAt }`: the login for
 * curl and scripts. Same rules as the logIn mutation: same error for an unknown email and a
 * wrong password, same rate limit.
 */
export function createBasicLoginRoute(accounts: Accounts, hop: InternalHop): Route {
  return {
    methods: ['POST'],
    path: '/auth/login',
    // The router relays the login with no body: one here is refused (413) before the check.
    handler: routerOnly(hop, loginHandler(accounts), { maxBodyBytes: 0 }),
  };
}

function loginHandler(accounts: Accounts): RouteHandler {
  return async (req, res) => {
    const credentials = parseBasic(req.headers.authorization);
    if (!credentials) {
      sendError(res, ErrorCode.UNAUTHENTICATED, 'Send HTTP Basic credentials', {
        'www-authenticate': CHALLENGE,
      });
      return;
    }
    try {
      const { token, expiresAt } = await accounts.logIn(
        credentials.email,
        credentials.password,
        // Signed by the router (routerOnly): its X-Forwarded-For holds.
        clientAddress(req, 1),
      );
      res.setHeader('cache-control', 'no-store');
      sendJson(res, 200, { token, expiresAt: expiresAt.toISOString() });
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      const { code, retryAfterSeconds } = error.extensions;
      if (code === ErrorCode.RATE_LIMITED) {
        sendError(res, ErrorCode.RATE_LIMITED, error.message, {
          'retry-after': String(retryAfterSeconds),
        });
      } else if (code === ErrorCode.UNAUTHENTICATED) {
        sendError(res, ErrorCode.UNAUTHENTICATED, error.message, {
          'www-authenticate': CHALLENGE,
        });
      } else {
        throw error;
      }
    }
  };
}

function parseBasic(header: string | undefined): { email: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { email: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
