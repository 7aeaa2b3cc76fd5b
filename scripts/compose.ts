import { writeFileSync } from 'node:fs';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import { composeSupergraph } from './composeSupergraph.js';

// `npm run compose`: regenerates the committed schema files (a test fails when they are stale).
const { supergraphSdl, apiSdl } = composeSupergraph();
writeFileSync(SCHEMA_PATHS.supergraph, supergraphSdl);
writeFileSync(SCHEMA_PATHS.api, apiSdl);
process.stdout.write('wrote schema/supergraph.graphql and schema/api.graphql\n');
