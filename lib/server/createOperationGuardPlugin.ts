import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import { ErrorCode, graphqlError } from '../contracts/errors.js';
import { estimateQueryCost } from './estimateQueryCost.js';
import { measureQuery } from './measureQuery.js';
import { DEFAULT_PAGE_SIZE } from '../contracts/pagination.js';

export interface OperationLimits {
  maxDepth: number;
  /** Most fields one operation may select, aliases and fragment uses counted. */
  maxFields: number;
  /** Most an operation may cost, lists multiplied out (see estimateQueryCost). */
  maxCost: number;
}

/**
 * Refuses, before anything is planned or resolved, operations nested deeper than `maxDepth`,
 * selecting more than `maxFields` fields (1,000 aliases of a cheap field are not cheap), or
 * costing more than `maxCost` once lists are multiplied out (a short query can ask for
 * millions of items through nested lists). The router and every subgraph run it, so a
 * subgraph reached directly is bounded too; the router also refuses subscriptions over HTTP
 * (the WebSocket server runs them). A plugin rather than a validation rule so the error keeps
 * our own code (Apollo rewrites validation errors to GRAPHQL_VALIDATION_FAILED).
 */
export function createOperationGuardPlugin(
  limits: OperationLimits,
  options: { refuseSubscriptions?: boolean } = {},
): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operationName, operation, schema, request }) {
          if (
            options.refuseSubscriptions &&
            operation?.operation === OperationTypeNode.SUBSCRIPTION
          ) {
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
          const cost = estimateQueryCost(schema, document, operationName, request.variables, {
            defaultListSize: DEFAULT_PAGE_SIZE,
          });
          if (cost > limits.maxCost) {
            throw graphqlError(
              ErrorCode.QUERY_TOO_COSTLY,
              `The query could cost ${cost}, over the limit of ${limits.maxCost}: ask for smaller pages (first) or fewer nested lists`,
              { cost, maxCost: limits.maxCost },
              { httpStatus: true },
            );
          }
        },
      };
    },
  };
}
