import {
  GraphQLError,
  Kind,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';
import {
  planConversionWatch,
  refuseConditionalRoot,
  type ConversionWatchPlan,
} from './planConversionWatch.js';

/** How subscriptions are validated, as the router's Apollo Server validates operations. */
export interface SubscriptionValidation {
  rules: readonly ValidationRule[];
  hideSuggestions: boolean;
}

/**
 * Off, introspection is refused over WebSocket too, and validation errors carry no "Did you
 * mean …?" hints, which would spell the schema out.
 */
export function subscriptionValidation(introspection: boolean): SubscriptionValidation {
  return {
    rules: introspection ? specifiedRules : [...specifiedRules, NoIntrospectionRule],
    hideSuggestions: !introspection,
  };
}

/** A subscription ready to watch: its plan, and what graphql-ws executes it with. */
export interface PlannedSubscription {
  plan: ConversionWatchPlan;
  document: DocumentNode;
  variableValues: Record<string, unknown>;
}

/**
 * Parses, validates and plans one `subscribe` payload, or answers the errors to refuse it with
 * (the codes Apollo gives the same errors over HTTP, so clients handle both alike).
 */
export function planSubscription(
  schema: GraphQLSchema,
  payload: SubscribePayload,
  validation: SubscriptionValidation,
): PlannedSubscription | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(payload.query);
  } catch (error) {
    return [graphqlError(ErrorCode.BAD_REQUEST, (error as Error).message)];
  }
  let invalid: readonly GraphQLError[];
  try {
    refuseConditionalRoot(getOperationAST(document, payload.operationName));
    invalid = validate(schema, document, validation.rules, {
      hideSuggestions: validation.hideSuggestions,
    });
  } catch (error) {
    // A rule that throws (graphql-js 16's single-field rule can) must not end the socket.
    if (!(error instanceof GraphQLError)) throw error;
    return [error.extensions.code ? error : withValidationCode(error)];
  }
  if (invalid.length > 0) return invalid.map(withValidationCode);
  const operation = document.definitions.find(
    (d) =>
      d.kind === Kind.OPERATION_DEFINITION &&
      (payload.operationName == null || d.name?.value === payload.operationName),
  );
  const coerced = getVariableValues(
    schema,
    operation?.kind === Kind.OPERATION_DEFINITION ? (operation.variableDefinitions ?? []) : [],
    payload.variables ?? {},
    { hideSuggestions: validation.hideSuggestions },
  );
  if (coerced.errors) return coerced.errors.map(withBadInputCode);
  try {
    const plan = planConversionWatch(schema, document, payload.operationName, coerced.coerced);
    return { plan, document, variableValues: coerced.coerced };
  } catch (error) {
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
}

/**
 * Introspection refused as Apollo Server refuses it over HTTP: once per `__schema` or `__type`
 * (graphql-js's NoSchemaIntrospectionCustomRule would also name every field below them).
 */
const NoIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value !== '__schema' && node.name.value !== '__type') return;
    context.reportError(
      new GraphQLError('Introspection is off: the operation selects __schema or __type', {
        nodes: node,
      }),
    );
  },
});

/** The code Apollo gives the same errors over HTTP, so clients handle both alike. */
function withValidationCode(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
  });
}

function withBadInputCode(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}
