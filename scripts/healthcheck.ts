// The image's HEALTHCHECK. A container runs exactly one REELFLUX process, so whichever of the
// five ports answers /healthz is that process; none answering means unhealthy.
import { DEFAULT_PORTS, processPort, type ProcessName } from '../lib/platform/processPorts.js';

const ports = (Object.keys(DEFAULT_PORTS) as ProcessName[]).map((name) =>
  processPort(process.env, name),
);
const answers = await Promise.all(
  ports.map((port) =>
    fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    ),
  ),
);
process.exit(answers.some(Boolean) ? 0 : 1);
