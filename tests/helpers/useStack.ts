import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, inject } from 'vitest';
import { spawnStack, type RunningStack } from '../../scripts/spawnStack.js';
import type { TestInfrastructure } from '../globalSetup.js';
import { uniqueName } from './uniqueName.js';

/** A whole stack of this describe block's own, and what it was started on. */
export interface SuiteStack {
  /** The shared infrastructure globalSetup brought up. */
  infra: TestInfrastructure;
  /** `<name>…_`: this stack's databases and queues, unique to the run. */
  prefix: string;
  /** The running stack: there from the block's beforeAll on, not while tests are collected. */
  readonly stack: RunningStack;
  /** One of the stack's databases (`<prefix><service>`), for a test to look behind the API. */
  database(service: string): Db;
}

/**
 * Spawns a stack (scripts/spawnStack.ts) before the tests of the calling describe block and
 * stops it after them. `env` is its extra environment, or a function of the infrastructure
 * that makes it when the stack starts, after the hooks registered before this call (a proxy
 * whose port it names). Hooks registered after this call run after the stack starts and, for
 * afterAll, before it stops.
 */
export function useStack(
  name: string,
  env: Record<string, string> | ((infra: TestInfrastructure) => Record<string, string>) = {},
): SuiteStack {
  const infra = inject('infra');
  const prefix = `${uniqueName(name)}_`;
  let stack: RunningStack | undefined;
  let mongo: MongoClient | undefined;
  beforeAll(async () => {
    stack = await spawnStack(infra, prefix, typeof env === 'function' ? env(infra) : env);
  });
  afterAll(async () => {
    await mongo?.close();
    await stack?.stop();
  });
  return {
    infra,
    prefix,
    get stack() {
      if (!stack) throw new Error(`the ${name} stack is not running: read it in a test or hook`);
      return stack;
    },
    database(service) {
      mongo ??= new MongoClient(infra.mongodbUri);
      return mongo.db(`${prefix}${service}`);
    },
  };
}
