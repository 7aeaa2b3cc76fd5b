import { writeFileSync } from 'node:fs';
import { fromRoot } from '../lib/projectRoot.js';
import { composeSupergraph } from './composeSupergraph.js';

// `npm run compose`: regenerates the committed schema files (a test fails when they are stale).
const { supergraphSdl, apiSdl } = composeSupergraph();
writeFileSync(fromRoot('schema', 'supergraph.graphql'), supergraphSdl);
writeFileSync(fromRoot('schema', 'api.graphql'), apiSdl);
process.stdout.write('wrote schema/supergraph.graphql and schema/api.graphql\n');
