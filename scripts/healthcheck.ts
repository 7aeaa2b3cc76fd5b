// The image's HEALTHCHECK: the container's REELFLUX process answers /healthz on its internal
// port (<NAME>_INTERNAL_PORT; the public port serves clients only). Which
// process that is comes from PID 1's command line (`tini -- reelflux <process>`): on a host's
// network several containers share 127.0.0.1, so another container's port proves nothing.
import { readFileSync } from 'node:fs';
import { internalPort, PROCESS_NAMES, type ProcessName } from '../lib/platform/processPorts.js';

const isProcess = (name: string | undefined): name is ProcessName =>
  PROCESS_NAMES.some((known) => known === name);

function containerProcess(): ProcessName | undefined {
  try {
    const name = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean).at(-1);
    return isProcess(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

// Unknown (the image run some other way): any of the six answering will do.
const known = containerProcess();
const names = known ? [known] : PROCESS_NAMES;
const answers = await Promise.all(
  names.map((name) =>
    fetch(`http://127.0.0.1:${internalPort(process.env, name)}/healthz`, {
      signal: AbortSignal.timeout(2_000),
    }).then(
      (response) => response.ok,
      () => false,
    ),
  ),
);
process.exit(answers.some(Boolean) ? 0 : 1);
