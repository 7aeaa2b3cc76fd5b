import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { estimateQueryCost } from '../lib/server/estimateQueryCost.js';
import { SCHEMA_PATHS, subgraphSdlPath } from '../lib/contracts/subgraphs.js';

const schema = buildSchema(readFileSync(SCHEMA_PATHS.api, 'utf8'));
const cost = (query: string, variables?: Record<string, unknown>) =>
  estimateQueryCost(schema, parse(query), undefined, variables, { defaultListSize: 20 });

describe('estimateQueryCost', () => {
  it('counts object fields, not scalars or introspection', () => {
    expect(cost('{ me { id email } }')).toBe(1);
    expect(cost('{ __schema { types { name fields { name } } } }')).toBe(0);
    expect(
      cost('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }'),
    ).toBe(0);
    // Beside introspection, the ordinary part is priced as if alone.
    expect(cost('{ __schema { types { name } } videos(first: 5) { edges { node { id } } } }')).toBe(
      1 + 5 * 2,
    );
    expect(
      cost('{ video(id: "x") { id owner { id } latestConversion { id audio { id } } } }'),
    ).toBe(4);
  });

  it('multiplies by first, from the query or its variables, else the default page', () => {
    expect(cost('{ videos(first: 5) { edges { node { id } } } }')).toBe(1 + 5 * 2);
    expect(cost('query ($n: Int) { videos(first: $n) { edges { node { id } } } }', { n: 7 })).toBe(
      1 + 7 * 2,
    );
    expect(cost('{ videos { edges { node { id } } } }')).toBe(1 + 20 * 2);
    // A variable left out takes its declared default, not the default page.
    expect(cost('query ($n: Int = 100) { videos(first: $n) { edges { node { id } } } }')).toBe(
      1 + 100 * 2,
    );
  });

  it('grows with each nested list: the cyclic query is refused long before it runs', () => {
    const level = (inner: string) =>
      `conversions(first: 100) { edges { node { video { ${inner} } } } }`;
    const query = `{ video(id: "x") { ${level(level(level(level('id'))))} } }`;
    expect(cost(query)).toBeGreaterThan(100 ** 4);
    // One level of the same: affordable.
    expect(cost(`{ video(id: "x") { ${level('id')} } }`)).toBe(1 + (1 + 100 * 3));
  });

  it('follows fragments and inline fragments', () => {
    expect(
      cost(
        '{ videos(first: 10) { ...V } } fragment V on VideoConnection { edges { node { id } } }',
      ),
    ).toBe(1 + 10 * 2);
    expect(cost('{ me { ... on User { id } } }')).toBe(1);
  });

  it("prices federation's _entities by its representations, each at least 1", () => {
    const media = buildSubgraphSchema([
      { typeDefs: parse(readFileSync(subgraphSdlPath('media'), 'utf8')) },
    ]);
    const entities = (selection: string, count: number) =>
      estimateQueryCost(
        media,
        parse(`query ($r: [_Any!]!) { _entities(representations: $r) { ${selection} } }`),
        undefined,
        { r: Array.from({ length: count }, (_, i) => ({ __typename: 'Video', id: String(i) })) },
        { defaultListSize: 20 },
      );
    // Only scalars below: still one read per representation.
    expect(entities('... on Video { id filename }', 3)).toBe(3);
    expect(entities('... on Video { id }', 5001)).toBe(5001);
    // What is below each representation multiplies as under any list.
    expect(entities('... on Video { owner { id } }', 10)).toBe(10);
    expect(entities('... on Video { owner { id } } ... on Audio { id }', 10)).toBe(10);
    expect(entities('... on Video { owner { id } a: owner { id } }', 10)).toBe(20);
  });
});
