import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import { composeSupergraph } from '../scripts/composeSupergraph.js';

describe('committed schema', () => {
  const composed = composeSupergraph();
  it('schema/supergraph.graphql is what the subgraphs compose to (else run npm run compose)', () => {
    expect(readFileSync(SCHEMA_PATHS.supergraph, 'utf8')).toBe(composed.supergraphSdl);
  });
  it('schema/api.graphql is the public API of that supergraph (else run npm run compose)', () => {
    expect(readFileSync(SCHEMA_PATHS.api, 'utf8')).toBe(composed.apiSdl);
  });
  it('keeps the public names clients are written against', () => {
    for (const name of ['type User', 'type AuthPayload', 'me: User', 'signUp(', 'logIn(']) {
      expect(composed.apiSdl).toContain(name);
    }
  });
});
