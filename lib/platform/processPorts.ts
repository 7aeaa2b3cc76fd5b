import { LOG_LEVELS, type LogLevel } from './logger.js';
import { readEnv } from './readEnv.js';

/**
 * Where each process serves its clients unless its `<NAME>_PORT` says otherwise: the router
 * serves the world, each subgraph the router. The worker has no clients and no public port.
 */
export const DEFAULT_PORTS = {
  router: 4000,
  auth: 4001,
  media: 4002,
  conversion: 4003,
  notification: 4004,
} as const;
export type ServingProcess = keyof typeof DEFAULT_PORTS;

/**
 * Where each process serves /healthz, /readyz and /metrics unless its `<NAME>_INTERNAL_PORT`
 * says otherwise: a port for probes and scrapers that no Service or published port exposes.
 * Each process has its own, so that all six can run on one host.
 */
export const DEFAULT_INTERNAL_PORTS = {
  router: 9400,
  auth: 9401,
  media: 9402,
  conversion: 9403,
  notification: 9404,
  worker: 9410,
} as const;
export type ProcessName = keyof typeof DEFAULT_INTERNAL_PORTS;

export const PROCESS_NAMES = Object.keys(DEFAULT_INTERNAL_PORTS) as ProcessName[];

/** The public port `name` listens on, read as its config reads it: `<NAME>_PORT`, else the default. */
export function processPort(source: NodeJS.ProcessEnv, name: ServingProcess): number {
  return readEnv(source).int(`${name.toUpperCase()}_PORT`, DEFAULT_PORTS[name], {
    min: 0,
    max: 65535,
  });
}

/** The internal port `name` listens on: `<NAME>_INTERNAL_PORT`, else the default. */
export function internalPort(source: NodeJS.ProcessEnv, name: ProcessName): number {
  return readEnv(source).int(`${name.toUpperCase()}_INTERNAL_PORT`, DEFAULT_INTERNAL_PORTS[name], {
    min: 0,
    max: 65535,
  });
}

/** Where and how every process listens and logs: the start of each config. */
export interface ProcessBasics {
  host: string;
  /** /healthz, /readyz and /metrics (see DEFAULT_INTERNAL_PORTS). */
  internalPort: number;
  logLevel: LogLevel;
}

/** The basics of a process that also serves clients, on `port`. */
export interface ServingBasics extends ProcessBasics {
  port: number;
}

export function readProcessBasics(source: NodeJS.ProcessEnv, name: ProcessName): ProcessBasics {
  const env = readEnv(source);
  return {
    host: env.string('HOST', '0.0.0.0'),
    internalPort: internalPort(source, name),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}

export function readServingBasics(source: NodeJS.ProcessEnv, name: ServingProcess): ServingBasics {
  return { ...readProcessBasics(source, name), port: processPort(source, name) };
}
