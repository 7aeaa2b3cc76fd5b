// The image's HEALTHCHECK. A container runs exactly one REELFLUX process, so whichever of the
// five ports answers /healthz is that process; none answering means unhealthy.
const ports = [
  process.env.ROUTER_PORT ?? '4000',
  process.env.AUTH_PORT ?? '4001',
  process.env.MEDIA_PORT ?? '4002',
  process.env.CONVERSION_PORT ?? '4003',
  process.env.WORKER_PORT ?? '4010',
];
const answers = await Promise.all(
  ports.map((port) =>
    fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    ),
  ),
);
process.exit(answers.some(Boolean) ? 0 : 1);
