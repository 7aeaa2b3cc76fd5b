import { getIntrospectionQuery, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { measureQuery } from '../lib/server/measureQuery.js';

const measureQueryDepth = (...args: Parameters<typeof measureQuery>) => measureQuery(...args).depth;

describe('measureQuery', () => {
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

  it('counts every field, alias and fragment use', () => {
    expect(measureQuery(parse('{ me { id email } a: me { id } }')).fields).toBe(5);
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: me { id }`).join(' ');
    expect(measureQuery(parse(`{ ${aliases} }`)).fields).toBe(2000);
    expect(measureQuery(parse('{ me { ...F ...F } } fragment F on User { id email }')).fields).toBe(
      5,
    );
  });

  it('stops counting a fragment bomb soon after the limit', () => {
    const levels = Array.from(
      { length: 30 },
      (_, i) => `fragment F${i} on User { ...F${i + 1} ...F${i + 1} }`,
    ).join(' ');
    const doc = parse(`{ me { ...F0 } } ${levels} fragment F30 on User { id }`);
    const started = performance.now();
    expect(measureQuery(doc, undefined, { stopAt: 1000 }).fields).toBeGreaterThan(1000);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  describe('with introspection apart', () => {
    const apart = (query: string) =>
      measureQuery(parse(query), undefined, { introspectionApart: true });

    it('leaves the standard introspection query out of depth and fields, and counts it apart', () => {
      const standard = parse(getIntrospectionQuery({ descriptions: true, oneOf: true }));
      expect(measureQuery(standard).depth).toBe(15);
      const measured = measureQuery(standard, undefined, { introspectionApart: true });
      expect(measured).toMatchObject({ depth: 0, fields: 0 });
      expect(measured.introspectionFields).toBeGreaterThan(200);
      expect(measured.introspectionFields).toBe(measureQuery(standard).fields);
    });

    it('measures the ordinary part of a mixed operation as if alone', () => {
      const mixed = apart(
        '{ __schema { types { fields { type { ofType { name } } } } } __type(name: "User") { name } me { id } }',
      );
      expect(mixed).toEqual({ depth: 2, fields: 2, introspectionFields: 8 });
      const deep = apart('{ __schema { queryType { name } } videos { edges { node { id } } } }');
      expect(deep).toMatchObject({ depth: 4, fields: 4 });
    });

    it('keeps __typename an ordinary field', () => {
      expect(apart('{ __typename me { __typename id } }')).toEqual({
        depth: 2,
        fields: 4,
        introspectionFields: 0,
      });
    });

    it('follows fragments into introspection and counts every alias there', () => {
      const names = Array.from({ length: 600 }, (_, i) => `n${i}: name`).join(' ');
      const wide = apart(`{ __schema { types { ...T } } } fragment T on __Type { ${names} }`);
      expect(wide).toEqual({ depth: 0, fields: 0, introspectionFields: 602 });
    });

    it('stops counting an introspection fragment bomb soon after the limit', () => {
      const levels = Array.from(
        { length: 30 },
        (_, i) => `fragment F${i} on __Type { ...F${i + 1} ...F${i + 1} }`,
      ).join(' ');
      const doc = parse(
        `{ __schema { types { ...F0 } } } ${levels} fragment F30 on __Type { name }`,
      );
      const started = performance.now();
      const measured = measureQuery(doc, undefined, { stopAt: 1000, introspectionApart: true });
      expect(measured.introspectionFields).toBeGreaterThan(1000);
      expect(performance.now() - started).toBeLessThan(1000);
    });
  });
});
