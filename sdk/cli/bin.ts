#!/usr/bin/env node
// The `reelflux` executable (package.json `bin`): everything else is in main.ts.
import { EXIT } from './exitCodes.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`reelflux: ${String(error)}\n`);
    process.exit(EXIT.FAILED);
  },
);
