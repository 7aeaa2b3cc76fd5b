import type { ApolloServer } from '@apollo/server';
import type { FormattedExecutionResult } from 'graphql';
import { ErrorCode } from '../lib/contracts/errors.js';
import type { Logger } from '../lib/platform/logger.js';
import type { RouterContext } from './RouterContext.js';

/**
 * Runs one subscription's query through the router's gateway as its subscriber; a failure is
 * logged and answered as INTERNAL_SERVER_ERROR, as over HTTP, never thrown at the socket.
 */
export async function executeGatewayQuery(
  apollo: ApolloServer<RouterContext>,
  context: RouterContext,
  query: string,
  variables: Record<string, unknown>,
  log: Logger,
): Promise<FormattedExecutionResult> {
  try {
    const response = await apollo.executeOperation({ query, variables }, { contextValue: context });
    if (response.body.kind !== 'single') throw new Error('unexpected incremental response');
    return response.body.singleResult;
  } catch (error) {
    log.error({ err: error }, 'subscription query failed');
    return {
      errors: [
        { message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } },
      ],
    };
  }
}
