import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { buildClientSchema, buildSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperationGuardPlugin } from '../lib/server/createOperationGuardPlugin.js';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import { NESTED_INTROSPECTION, STANDARD_INTROSPECTION } from './helpers/introspection.js';

const typeDefs = readFileSync(SCHEMA_PATHS.api, 'utf8');
const schema = buildSchema(typeDefs);
const limits = { maxDepth: 12, maxFields: 500, maxCost: 5_000 };
/** How the server answered one operation. */
interface Answer {
  status: number;
  data: Record<string, unknown> | null | undefined;
  codes: unknown[];
  messages: string[];
}

/**
 * The router's Apollo Server in miniature: the public schema, no resolvers, the guard. Given
 * as SDL so that Apollo builds it with its own copy of graphql (Vitest loads the other).
 */
async function startServer(introspection: boolean) {
  const apollo = new ApolloServer({
    typeDefs,
    introspection,
    hideSchemaDetailsFromClientErrors: !introspection,
    plugins: [createOperationGuardPlugin(limits, { introspection })],
  });
  await apollo.start();
  const run = async (query: string): Promise<Answer> => {
    const response = await apollo.executeOperation({ query });
    if (response.body.kind !== 'single') throw new Error('unexpected incremental response');
    const { data, errors } = response.body.singleResult;
    return {
      status: response.http.status ?? 200,
      data,
      codes: (errors ?? []).map((error) => error.extensions?.code),
      messages: (errors ?? []).map((error) => error.message),
    };
  };
  return { apollo, run };
}

/** A server started before the calling describe block's tests, stopped after them. */
function useServer(introspection: boolean): { run: (query: string) => Promise<Answer> } {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  beforeAll(async () => {
    server = await startServer(introspection);
  });
  afterAll(() => server?.apollo.stop());
  return {
    run: (query) => {
      if (!server) throw new Error('the server did not start');
      return server.run(query);
    },
  };
}

describe('createOperationGuardPlugin with introspection on', () => {
  const server = useServer(true);

  it.each([
    ['without options', STANDARD_INTROSPECTION.plain],
    ['with every option', STANDARD_INTROSPECTION.full],
  ])('answers the standard introspection query %s', async (_, query) => {
    const answer = await server.run(query);
    expect(answer.codes).toEqual([]);
    const loaded = buildClientSchema(answer.data as unknown as IntrospectionQuery);
    expect(Object.keys(loaded.getTypeMap()).sort()).toEqual(
      Object.keys(schema.getTypeMap()).sort(),
    );
  });

  it('refuses introspection nested three lists deep with QUERY_TOO_DEEP, before it runs', async () => {
    const answer = await server.run(NESTED_INTROSPECTION);
    expect(answer).toMatchObject({ status: 400, data: undefined, codes: ['QUERY_TOO_DEEP'] });
    expect(answer.messages[0]).toMatch(/^Introspection nested too deep/);
  });

  it('keeps other validation errors as Apollo words them', async () => {
    const answer = await server.run(
      '{ mee { id } __schema { types { fields { type { fields { type { fields { name } } } } } } } }',
    );
    expect(answer.codes.sort()).toEqual(['GRAPHQL_VALIDATION_FAILED', 'QUERY_TOO_DEEP']);
  });

  it('bounds introspection by MAX_QUERY_FIELDS of its own', async () => {
    const names = Array.from({ length: 600 }, (_, i) => `n${i}: name`).join(' ');
    const answer = await server.run(`{ __schema { types { ${names} } } }`);
    expect(answer).toMatchObject({ status: 400, codes: ['QUERY_TOO_COMPLEX'] });
    expect(answer.messages[0]).toMatch(/introspection/);
  });

  it('limits and prices the ordinary part of a mixed operation as if alone', async () => {
    const standard = STANDARD_INTROSPECTION.full.replace(/^\s*query IntrospectionQuery \{/, '');
    const mixed = (ordinary: string) => `query Mixed { ${ordinary} ${standard}`;
    expect((await server.run(mixed('me { id }'))).codes).toEqual([]);

    const nest = (depth: number): string =>
      depth === 0 ? 'id' : `conversions { edges { node { video { ${nest(depth - 1)} } } } }`;
    const deep = await server.run(mixed(`videos { edges { node { ${nest(3)} } } }`));
    expect(deep).toMatchObject({ status: 400, codes: ['QUERY_TOO_DEEP'] });
    expect(deep.messages[0]).toBe('Query depth 16 exceeds the limit of 12');

    const level = (inner: string) =>
      `conversions(first: 100) { edges { node { video { ${inner} } } } }`;
    const costly = await server.run(mixed(`video(id: "x") { ${level(level('id'))} }`));
    expect(costly).toMatchObject({ status: 400, codes: ['QUERY_TOO_COSTLY'] });

    // 480 ordinary fields beside the introspection's 230 or so: each part within 500.
    const aliases = (n: number) =>
      Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(' ');
    expect((await server.run(mixed(aliases(240)))).codes).toEqual([]);
    expect((await server.run(mixed(aliases(260)))).codes).toEqual(['QUERY_TOO_COMPLEX']);
  });
});

describe('createOperationGuardPlugin with introspection off', () => {
  const server = useServer(false);

  it.each([
    ['the standard query', STANDARD_INTROSPECTION.full],
    ['the nested one', NESTED_INTROSPECTION],
  ])('leaves %s to Apollo, which refuses it', async (_, query) => {
    const answer = await server.run(query);
    expect(answer.status).toBe(400);
    expect(answer.data).toBeUndefined();
    expect(new Set(answer.codes)).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
  });
});
