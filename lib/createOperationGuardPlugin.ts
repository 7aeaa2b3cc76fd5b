import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import { ErrorCode, graphqlError } from '../lib/errors.js';
import { measureQuery } from './measureQuery.js';

/**
 * Refuses, before the gateway plans them, operations nested deeper than `maxDepth` or selecting
 * more than `maxFields` fields (1,000 aliases of a cheap field are not cheap), and
 * subscriptions sent over HTTP (the gateway cannot run them; the WebSocket server can). A plugin
 * rather than a validation rule so the error keeps our own code (Apollo rewrites validation
 * errors to GRAPHQL_VALIDATION_FAILED).
 */
export function createOperationGuardPlugin(limits: {
  maxDepth: number;
  maxFields: number;
}): ApolloServerPlugin<BaseContext> {
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
          const { depth, fields } = measureQuery(document, operationName, limits.maxFields);
          if (depth > limits.maxDepth) {
            throw graphqlError(
              ErrorCode.QUERY_TOO_DEEP,
              `Query depth ${depth} exceeds the limit of ${limits.maxDepth}`,
              {},
              { httpStatus: true },
            );
          }
          if (fields > limits.maxFields) {
            throw graphqlError(
              ErrorCode.QUERY_TOO_COMPLEX,
              `The query selects more than the limit of ${limits.maxFields} fields`,
              {},
              { httpStatus: true },
            );
          }
        },
      };
    },
  };
}
