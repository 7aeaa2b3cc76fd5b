import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ErrorCode, graphqlError } from '../lib/errors.js';
import { measureQueryDepth } from './measureQueryDepth.js';

/**
 * Refuses operations nested deeper than `maxDepth` before the gateway plans them. A plugin
 * rather than a validation rule so the error keeps our own code (Apollo rewrites validation
 * errors to GRAPHQL_VALIDATION_FAILED).
 */
export function createDepthLimitPlugin(maxDepth: number): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operationName }) {
          const depth = measureQueryDepth(document, operationName);
          if (depth > maxDepth) {
            throw graphqlError(
              ErrorCode.QUERY_TOO_DEEP,
              `Query depth ${depth} exceeds the limit of ${maxDepth}`,
              {},
              { httpStatus: true },
            );
          }
        },
      };
    },
  };
}
