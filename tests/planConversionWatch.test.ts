import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import { planConversionWatch, STATUS_ALIAS } from '../router/planConversionWatch.js';

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
    expect(result.pick({ conversion: { progress: 0.5 } })).toEqual({ progress: 0.5 });
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
    expect(result.pick({ video: { latestConversion: { id: ID } } })).toEqual({ id: ID });
    expect(result.pick({ video: { latestConversion: null } })).toBeNull();
    expect(result.pick({ video: null })).toBeNull();
  });

  it('needs exactly one of id and videoId', () => {
    expect(() => plan('subscription { conversionUpdated { id } }')).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } }),
    );
    expect(() =>
      plan(`subscription { conversionUpdated(id: "${ID}", videoId: "${ID}") { id } }`),
    ).toThrow(expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } }));
  });

  it('refuses queries and mutations: the socket serves subscriptions only', () => {
    expect(() => plan('{ me { id } }')).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } }),
    );
  });
});
