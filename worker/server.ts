import { createStorageQuota } from '../lib/stores/storageQuota.js';
import { Counter, Gauge } from 'prom-client';
import { createBroker } from '../lib/broker/createBroker.js';
import { openConversionEngine } from '../lib/conversions/createConversionEngine.js';
import { ensureMp3Indexes } from '../lib/stores/audioFiles.js';
import { createInternalApp } from '../lib/server/http.js';
import type { Logger } from '../lib/platform/logger.js';
import { createMetrics } from '../lib/platform/metrics.js';
import { connectDatabases } from '../lib/platform/mongo.js';
import { backendReadiness } from '../lib/server/backendReadiness.js';
import type { RunningService } from '../lib/platform/runMain.js';
import type { WorkerConfig } from './config.js';
import { createJobHandler } from './createJobHandler.js';

/**
 * A worker process: takes up to WORKER_CONCURRENCY jobs at once from the shared queue and
 * serves only /healthz, /readyz and /metrics, on its internal port. On SIGTERM it stops taking jobs, lets running
 * ones finish for WORKER_DRAIN_SECONDS, then kills what is left and hands it back.
 */
export async function createWorker(
  config: WorkerConfig,
  log: Logger,
): Promise<Pick<RunningService, 'internalListener' | 'stop' | 'shutdownGraceMs'>> {
  const mongo = await connectDatabases(config, 'worker');
  const conversionDb = mongo.database('conversion');
  const mediaDb = mongo.database('media');
  const broker = createBroker(config, 'worker', log);
  const engine = await openConversionEngine(conversionDb, { broker, log });
  // MP3s are stored chunk by chunk, not through the driver's upload stream, which would make
  // GridFS's indexes.
  await ensureMp3Indexes(mediaDb);
  const metrics = createMetrics('worker');
  const converted = new Counter({
    name: 'worker_conversions_total',
    help: 'MP3s made, by path: realtime (while the upload streamed), fallback (realtime given up, then the stored file) or stored',
    labelNames: ['path'],
    registers: [metrics.registry],
  });
  for (const path of ['realtime', 'fallback', 'stored']) converted.inc({ path }, 0);
  const jobs = createJobHandler({
    config,
    engine,
    mediaDb,
    quota: await createStorageQuota(mediaDb, config.maxStoredBytesPerUser),
    log,
    onConverted: (path) => converted.inc({ path }),
  });
  // Prefetch = concurrency: RabbitMQ hands this worker no more than it can run, so any number
  // of workers share the queue fairly.
  broker.consume(broker.topology.queues.jobs, config.concurrency, jobs.handle);

  new Gauge({
    name: 'worker_heartbeat_failures',
    help: 'Heartbeats of running jobs that could not be saved, since the worker started',
    registers: [metrics.registry],
    collect() {
      this.set(jobs.heartbeatFailures());
    },
  });

  return {
    internalListener: createInternalApp({
      log,
      metrics,
      readiness: backendReadiness(conversionDb, broker),
    }),
    shutdownGraceMs: 2_000,
    stop: async () => {
      await broker.stopConsuming();
      const deadline = Date.now() + config.drainMs;
      while (jobs.inFlight() > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      if (jobs.inFlight() > 0) {
        log.warn({ jobs: jobs.inFlight() }, 'drain period over: handing running jobs back');
        jobs.abortAll();
        while (jobs.inFlight() > 0) await new Promise((r) => setTimeout(r, 100));
      }
      await broker.close();
      await mongo.client.close();
    },
  };
}
