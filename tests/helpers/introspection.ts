import { getIntrospectionQuery, type IntrospectionOptions } from 'graphql';

/**
 * Every option of graphql-js's getIntrospectionQuery turned on. `typeDepth` (how deep `ofType`
 * goes) keeps its default, 9, for 232 fields; from 24 on, the query selects more than
 * MAX_QUERY_FIELDS (500) and is refused.
 */
export const EVERY_INTROSPECTION_OPTION: Required<Omit<IntrospectionOptions, 'typeDepth'>> = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  experimentalDirectiveDeprecation: true,
  oneOf: true,
};

/** The query every GraphQL IDE sends, without options and with every one. */
export const STANDARD_INTROSPECTION = {
  plain: getIntrospectionQuery(),
  full: getIntrospectionQuery(EVERY_INTROSPECTION_OPTION),
};

/** Introspection nested three lists deep, past graphql-js's MaxIntrospectionDepthRule. */
export const NESTED_INTROSPECTION = /* GraphQL */ `
  {
    __schema {
      types {
        fields {
          type {
            fields {
              type {
                fields {
                  name
                }
              }
            }
          }
        }
      }
    }
  }
`;
