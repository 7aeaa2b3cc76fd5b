import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { measureQueryDepth } from '../router/measureQueryDepth.js';

describe('measureQueryDepth', () => {
  it.each([
    ['{ me { id } }', 2],
    ['{ me { id } a: me { id } }', 2],
    ['{ __schema { types { fields { type { ofType { name } } } } } }', 6],
    ['query { me { ...F } } fragment F on User { id }', 2],
    ['{ me { ... on User { id } } }', 2],
  ])('%s has depth %i', (query, depth) => {
    expect(measureQueryDepth(parse(query))).toBe(depth);
  });

  it('measures only the named operation', () => {
    const doc = parse('query A { me { id } } query B { a { b { c { d } } } }');
    expect(measureQueryDepth(doc, 'A')).toBe(2);
    expect(measureQueryDepth(doc, 'B')).toBe(4);
  });

  it('terminates on a fragment cycle', () => {
    const doc = parse('{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A id }');
    expect(measureQueryDepth(doc)).toBe(2);
  });
});
