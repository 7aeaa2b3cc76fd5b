import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import { ErrorCode, graphqlError } from '../lib/errors.js';
import { measureQueryDepth } from './measureQueryDepth.js';

/**
 * Refuses, before the gateway plans them, operations nested deeper than `maxDepth` and
 * subscriptions sent over HTTP (the gateway cannot run them; the WebSocket server can). A plugin
 * rather than a validation rule so the error keeps our own code (Apollo rewrites validation
 * errors to GRAPHQL_VALIDATION_FAILED).
 */
export function createOperationGuardPlugin(maxDepth: number): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operationName, operation }) {
          if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
            throw graphqlError(
              ErrorCode.BAD_REQUEST,
              'Subscriptions are served over WebSocket (graphql-ws) on this same /graphql URL',
              {},
              { httpStatus: true },
            );
          }
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
