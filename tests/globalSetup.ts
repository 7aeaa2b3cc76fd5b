import 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureInfrastructure, type Infrastructure } from '../scripts/ensureInfrastructure.js';

export type TestInfrastructure = Omit<Infrastructure, 'stop'>;

declare module 'vitest' {
  export interface ProvidedContext {
    infra: TestInfrastructure;
  }
}

/**
 * The same infrastructure `npm start` uses (FerretDB, RabbitMQ, ffmpeg), brought up once for
 * the run. What this started is stopped afterwards; what was already running is left alone.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { stop, ...infra } = await ensureInfrastructure(process.env, (line) =>
    process.stdout.write(`test setup | ${line}\n`),
  );
  project.provide('infra', infra);
  return stop;
}
