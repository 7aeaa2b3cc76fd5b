import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  MaxIntrospectionDepthRule,
  OperationTypeNode,
  buildSchema,
  parse,
  validate,
  type GraphQLFormattedError,
} from 'graphql';
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

export interface OperationGuardOptions {
  /** Refuse subscriptions over HTTP (the router's WebSocket server runs them). @default false */
  refuseSubscriptions?: boolean;
  /**
   * The server answers introspection (Apollo Server's `introspection`, given the same value).
   * `__schema` and `__type` are then measured apart from the rest of the operation: the
   * standard introspection query that every IDE sends is 15 levels deep through `ofType`.
   * Off, they count like any other field (and Apollo refuses them anyway). @default false
   */
  introspection?: boolean;
}

/**
 * Refuses, before anything is planned or resolved, operations nested deeper than `maxDepth`,
 * selecting more than `maxFields` fields (1,000 aliases of a cheap field are not cheap), or
 * costing more than `maxCost` once lists are multiplied out (a short query can ask for
 * millions of items through nested lists). The router and every subgraph run it, so a
 * subgraph reached directly is bounded too; the router also refuses subscriptions over HTTP
 * (the WebSocket server runs them). A plugin rather than a validation rule so the error keeps
 * our own code (Apollo rewrites validation errors to GRAPHQL_VALIDATION_FAILED).
 *
 * Where introspection is answered, it is bounded by rules of its own instead: at most
 * `maxFields` fields of its own, and graphql-js's MaxIntrospectionDepthRule (fields,
 * interfaces, possibleTypes and inputFields nested three deep), which Apollo runs among the
 * specified rules; its refusal is answered with QUERY_TOO_DEEP here.
 */
export function createOperationGuardPlugin(
  limits: OperationLimits,
  options: OperationGuardOptions = {},
): ApolloServerPlugin<BaseContext> {
  const introspection = options.introspection ?? false;
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (!introspection || response.body.kind !== 'single') return;
          const { singleResult } = response.body;
          if (!singleResult.errors?.some(isIntrospectionTooDeep)) return;
          singleResult.errors = singleResult.errors.map((error) =>
            isIntrospectionTooDeep(error) ? introspectionTooDeep(error) : error,
          );
        },
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
          const { depth, fields, introspectionFields } = measureQuery(document, operationName, {
            stopAt: limits.maxFields,
            introspectionApart: introspection,
          });
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
          if (introspectionFields > limits.maxFields) {
            throw graphqlError(
              ErrorCode.QUERY_TOO_COMPLEX,
              `The query's introspection selects more than the limit of ${limits.maxFields} fields`,
              {},
              { httpStatus: true },
            );
          }
          // Introspection costs nothing here: its lists are bounded by the schema.
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

/**
 * What MaxIntrospectionDepthRule says, learnt from the rule rather than copied: Apollo keeps
 * only the message and its own code, and no schema is needed (the one Apollo validates with
 * may come from another copy of graphql under a test runner).
 */
const INTROSPECTION_TOO_DEEP_MESSAGE = validate(
  buildSchema('type Query { ok: Boolean }'),
  parse('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }'),
  [MaxIntrospectionDepthRule],
)[0]?.message;

const isIntrospectionTooDeep = (error: GraphQLFormattedError) =>
  error.extensions?.code === 'GRAPHQL_VALIDATION_FAILED' &&
  error.message === INTROSPECTION_TOO_DEEP_MESSAGE;

const introspectionTooDeep = (refused: GraphQLFormattedError): GraphQLFormattedError => ({
  message:
    'Introspection nested too deep: fields, interfaces, possibleTypes and inputFields may nest at most two levels',
  ...(refused.locations ? { locations: refused.locations } : {}),
  extensions: { code: ErrorCode.QUERY_TOO_DEEP },
});
