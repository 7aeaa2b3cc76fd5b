import { readFileSync } from 'node:fs';
import { buildSchema, getOperationAST, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import {
  planConversionWatch,
  refuseConditionalRoot,
  STATUS_ALIAS,
} from '../router/planConversionWatch.js';

const schema = buildSchema(readFileSync(SCHEMA_PATHS.api, 'utf8'));
const ID = '0123456789abcdef01234567';

function plan(query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  const document = parse(query);
  expect(validate(schema, document)).toEqual([]);
  return planConversionWatch(schema, document, operationName, variables);
}

describe('planConversionWatch', () => {
  it('asks conversion(id) for the selection, with the status added and the alias kept', () => {
    const result = plan(`subscription { mine: conversionUpdated(id: "${ID}") { progress } }`);
    expect(result.responseKey).toBe('mine');
    expect(result.target).toEqual({ conversionId: ID });
    expect(result.query).toContain(
      `conversion(id: $_reelfluxTarget) {\n    ${STATUS_ALIAS}: status`,
    );
    expect(validate(schema, parse(result.query))).toEqual([]);
    expect(result.variables).toEqual({ _reelfluxTarget: ID });
    expect(result.find({ conversion: { progress: 0.5 } })).toEqual({
      kind: 'found',
      conversion: { progress: 0.5 },
    });
    expect(result.find({ conversion: null })).toEqual({ kind: 'missing' });
  });

  it('follows the latest conversion of a video, keeping fragments and the variables they use', () => {
    const result = plan(
      `subscription Watch($v: ID, $withAudio: Boolean!) {
        conversionUpdated(videoId: $v) { ...F audio @include(if: $withAudio) { downloadUrl } }
      }
      fragment F on Conversion { id video { filename } }`,
      { v: ID, withAudio: true },
    );
    expect(result.target).toEqual({ videoId: ID });
    const query = parse(result.query);
    expect(validate(schema, query)).toEqual([]);
    // $v only chose the target: the query must not declare it (unused variables are invalid).
    expect(result.query).not.toContain('$v');
    expect(result.variables).toEqual({ _reelfluxTarget: ID, withAudio: true });
    expect(result.find({ video: { latestConversion: { id: ID } } })).toEqual({
      kind: 'found',
      conversion: { id: ID },
    });
    // The video is there and its conversion is not made yet: an event will bring it.
    expect(result.find({ video: { latestConversion: null } })).toEqual({ kind: 'notYet' });
    expect(result.find({ video: null })).toEqual({ kind: 'missing' });
    expect(result.find({})).toEqual({ kind: 'missing' });
  });

  it('needs exactly one of id and videoId', () => {
    expect(() => plan('subscription { conversionUpdated { id } }')).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } }),
    );
    expect(() =>
      plan(`subscription { conversionUpdated(id: "${ID}", videoId: "${ID}") { id } }`),
    ).toThrow(expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } }));
  });

  it('refuses @skip and @include on the subscription field, which would leave nothing to ask', () => {
    for (const directive of ['@skip(if: true)', '@skip(if: false)', '@include(if: false)']) {
      expect(() =>
        plan(`subscription { conversionUpdated(id: "${ID}") ${directive} { id } }`),
      ).toThrow(expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } }));
    }
    // Inside the selection they are the subscriber's business, and stay in the query.
    const inside = plan(
      `subscription { conversionUpdated(id: "${ID}") { id @skip(if: true) status } }`,
    );
    expect(inside.query).toContain('id @skip(if: true)');
  });

  it('refuses them before validation too, where graphql-js 16 would throw on a variable', () => {
    const document = parse(
      `subscription ($on: Boolean!) { conversionUpdated(id: "${ID}") @include(if: $on) { id } }`,
    );
    expect(() => validate(schema, document)).toThrow(/not provided a runtime value/);
    expect(() => refuseConditionalRoot(getOperationAST(document))).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } }),
    );
    const spread = parse(
      `subscription { ... on Subscription @skip(if: true) { conversionUpdated(id: "${ID}") { id } } }`,
    );
    expect(() => refuseConditionalRoot(getOperationAST(spread))).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } }),
    );
    expect(() =>
      refuseConditionalRoot(getOperationAST(parse('{ me { id @skip(if: true) } }'))),
    ).not.toThrow();
  });

  it('refuses queries and mutations: the socket serves subscriptions only', () => {
    expect(() => plan('{ me { id } }')).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } }),
    );
  });
});
