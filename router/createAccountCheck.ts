import type { Fetcher } from '@apollo/utils.fetcher';
import { createExpiringCache } from '../lib/platform/createExpiringCache.js';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';
import { InvalidTokenError, type TokenVerifier } from '../lib/server/createTokenVerifier.js';

/** Answers whether the account still exists, given its id and the caller's own header. */
export type AccountLookup = (userId: string, authorization: string) => Promise<boolean>;

export interface AccountCheckOptions {
  lookup: AccountLookup;
  /** How long one answer is believed: a deleted account's token stops working within this. */
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * A token verifier that also refuses tokens whose account is gone. A signature outlives its
 * account until the token expires (up to JWT_TTL_SECONDS), and nothing else in the path reads
 * the user record, so without this a deleted account could go on uploading. Answers are kept
 * per user for `ttlMs`, so the cost is one lookup per active user per period; lookups for one
 * user at the same moment share one request. A lookup that fails is not remembered and fails
 * the request with SERVICE_UNAVAILABLE: the router does not guess.
 */
export function createAccountCheck(
  verify: TokenVerifier,
  options: AccountCheckOptions,
): TokenVerifier {
  const { lookup, ttlMs, maxEntries = 10_000, now = () => Date.now() } = options;
  const answers = createExpiringCache<Promise<boolean>>(maxEntries, now);

  const exists = (userId: string, authorization: string): Promise<boolean> => {
    const cached = answers.get(userId);
    if (cached) return cached;
    const pending = lookup(userId, authorization);
    answers.set(userId, pending, now() + ttlMs);
    // Only answers are remembered; the next request asks again after a failure.
    pending.catch(() => answers.deleteIf(userId, pending));
    return pending;
  };

  return async (token) => {
    const verified = await verify(token);
    if (!(await exists(verified.userId, `Bearer ${token}`))) {
      throw new InvalidTokenError('the account no longer exists');
    }
    return verified;
  };
}

const ACCOUNT_QUERY = /* GraphQL */ `
  query AccountExists($representations: [_Any!]!) {
    _entities(representations: $representations) {
      ... on User {
        id
      }
    }
  }
`;

/**
 * Asks auth through federation's own entry point, `_entities` on User, with the caller's
 * token: auth resolves a User reference only for the caller itself, and to null once the
 * record is gone.
 */
export function lookupAccountInAuth(fetcher: Fetcher, authGraphqlUrl: string): AccountLookup {
  return async (userId, authorization) => {
    let body: { data?: { _entities?: ({ id?: string } | null)[] } | null; errors?: unknown[] };
    try {
      const response = await fetcher(authGraphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({
          query: ACCOUNT_QUERY,
          variables: { representations: [{ __typename: 'User', id: userId }] },
        }),
      });
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw unavailable(error instanceof Error ? error.message : String(error));
    }
    const entity = body.data?._entities?.[0];
    if (entity === undefined || body.errors) {
      throw unavailable(`unexpected answer ${JSON.stringify(body).slice(0, 200)}`);
    }
    return entity?.id === userId;
  };
}

function unavailable(reason: string) {
  return graphqlError(
    ErrorCode.SERVICE_UNAVAILABLE,
    `Could not check the account with the auth service (${reason}); try again`,
    {},
    { httpStatus: true },
  );
}
