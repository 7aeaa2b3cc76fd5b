import { LOG_LEVELS, type LogLevel } from './logger.js';
import { readEnv } from './readEnv.js';

/** Where each process listens unless its `<NAME>_PORT` says otherwise. */
export const DEFAULT_PORTS = {
  router: 4000,
  auth: 4001,
  media: 4002,
  conversion: 4003,
  worker: 4010,
} as const;
export type ProcessName = keyof typeof DEFAULT_PORTS;

/** The port `name` listens on, read as its config reads it: `<NAME>_PORT`, else the default. */
export function processPort(source: NodeJS.ProcessEnv, name: ProcessName): number {
  return readEnv(source).int(`${name.toUpperCase()}_PORT`, DEFAULT_PORTS[name], {
    min: 0,
    max: 65535,
  });
}

/** Where and how every process listens and logs: the start of each config. */
export interface ProcessBasics {
  host: string;
  port: number;
  logLevel: LogLevel;
}

export function readProcessBasics(source: NodeJS.ProcessEnv, name: ProcessName): ProcessBasics {
  const env = readEnv(source);
  return {
    host: env.string('HOST', '0.0.0.0'),
    port: processPort(source, name),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}
