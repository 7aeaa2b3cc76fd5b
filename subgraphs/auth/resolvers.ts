import { DateTimeScalar } from '../../lib/contracts/DateTimeScalar.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import type { SubgraphContext, SubgraphResolvers } from '../../lib/server/createSubgraphServer.js';
import type { Accounts, SignedIn } from './createAccounts.js';
import type { UserRecord, UserStore } from './createUserStore.js';

export function createResolvers(deps: { accounts: Accounts; users: UserStore }): SubgraphResolvers {
  const { accounts, users } = deps;
  const payload = ({ token, expiresAt, user }: SignedIn) => ({ token, expiresAt, user });

  return {
    DateTime: DateTimeScalar,
    Query: {
      me: async (_: unknown, __: unknown, ctx) => {
        if (!ctx.userId) return null;
        // A valid signature over an account that no longer exists is not a signed-in user.
        const user = await users.findById(ctx.userId);
        if (!user) {
          throw graphqlError(
            ErrorCode.UNAUTHENTICATED,
            'This account no longer exists',
            {},
            {
              httpStatus: true,
            },
          );
        }
        return user;
      },
    },
    Mutation: {
      signUp: async (_: unknown, args: { email: string; password: string }, ctx) =>
        payload(await accounts.signUp(args.email, args.password, ctx.clientAddress)),
      logIn: async (_: unknown, args: { email: string; password: string }, ctx) =>
        payload(await accounts.logIn(args.email, args.password, ctx.clientAddress)),
    },
    User: {
      id: (user: UserRecord) => user._id.toHexString(),
      // Other subgraphs only ever point at the caller (owners see their own things), so a
      // reference to anyone else resolves to nothing rather than leaking an email.
      __resolveReference: (ref: { id: string }, ctx: SubgraphContext) =>
        ctx.userId === ref.id ? users.findById(ref.id) : null,
    },
  };
}
