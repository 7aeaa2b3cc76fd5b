import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './readEnv.js';
import { createLogger, type Logger } from './logger.js';
import type { ProcessBasics, ProcessName } from './processPorts.js';

export interface RunningService {
  log: Logger;
  host: string;
  /** The public port and what it serves; neither for a process without clients (the worker). */
  port?: number;
  listener?: RequestListener;
  /** The internal port and what it serves: /healthz, /readyz and /metrics, for probes only. */
  internalPort: number;
  internalListener: RequestListener;
  /** Releases what the service holds (database, broker, Apollo) after HTTP has drained. */
  stop: () => Promise<void>;
  /** How long in-flight requests get to finish on SIGTERM before their sockets are cut. */
  shutdownGraceMs?: number;
  /**
   * How long a client may take to send one whole request (Node's requestTimeout, 300 s unless
   * set). Processes that take uploads raise it; a body that never ends is cut after it (408).
   */
  requestTimeoutMs?: number;
  /** Called with the bound server, e.g. to attach a WebSocket server to it. */
  onListening?: (server: Server) => void;
  /**
   * Called as shutdown begins, before HTTP drains: long-lived connections (WebSockets) that
   * would hold the drain open are closed here so their clients go to another replica.
   */
  beforeDrain?: () => Promise<void>;
}

/** What runService needs of a process's config. */
export interface ServiceConfig extends ProcessBasics {
  /** The public port, for processes that serve clients. */
  port?: number;
  /** Set by processes that take uploads: how long one request may take (requestTimeoutMs). */
  uploadTimeoutMs?: number;
}

/**
 * The whole of a main.ts: load the config, make the process's logger, build its server, and
 * run it as runMain does.
 */
export function runService<Config extends ServiceConfig>(
  service: ProcessName,
  load: () => Config,
  create: (
    config: Config,
    log: Logger,
  ) => Promise<Omit<RunningService, 'log' | 'host' | 'port' | 'internalPort' | 'requestTimeoutMs'>>,
): void {
  runMain(service, async () => {
    const config = load();
    const log = createLogger(service, config.logLevel);
    return {
      log,
      host: config.host,
      ...(config.port === undefined ? {} : { port: config.port }),
      internalPort: config.internalPort,
      ...(config.uploadTimeoutMs === undefined ? {} : { requestTimeoutMs: config.uploadTimeoutMs }),
      ...(await create(config, log)),
    };
  });
}

/** How long a client may take to send a request's headers. */
const HEADERS_TIMEOUT_MS = 20_000;

/**
 * The body of every main.ts: build the service, bind its port, and on SIGTERM/SIGINT stop
 * taking requests, let in-flight ones finish, release resources and exit 0. A configuration
 * error exits 1 with one line naming the variable.
 */
export function runMain(service: string, start: () => Promise<RunningService>): void {
  start()
    .then((running) => listen(service, running))
    .catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const kind = error instanceof ConfigError ? 'configuration error' : 'failed to start';
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', service, msg: `${kind}: ${message}` })}\n`,
      );
      process.exit(1);
    });
}

function listen(service: string, running: RunningService): void {
  const { log } = running;
  let stopping = false;
  const internal = createServer(running.internalListener);
  internal.headersTimeout = HEADERS_TIMEOUT_MS;
  bind(internal, running.internalPort, running.host, log, `${service} internal port listening`);

  let server: Server | undefined;
  if (running.listener !== undefined && running.port !== undefined) {
    const requestTimeout = running.requestTimeoutMs ?? 300_000;
    server = createServer(
      // Node checks for overdue requests on this interval: a tenth of the limit keeps the cut
      // close to the limit without scanning sockets often.
      { requestTimeout, connectionsCheckingInterval: Math.min(30_000, requestTimeout / 10) },
      running.listener,
    );
    // Longer than typical load-balancer idle timeouts, so they close first and never race us.
    server.keepAliveTimeout = 65_000;
    // Headers are small and come first: a client that trickles them is cut soon, whatever the
    // body limit. Never above requestTimeout: Node then enforces neither before the headers
    // timeout runs out (measured: a 5 s request limit cut a never-ending body only after 66 s).
    server.headersTimeout = Math.min(HEADERS_TIMEOUT_MS, requestTimeout);
    const bound = server;
    bind(bound, running.port, running.host, log, `${service} listening`, () =>
      running.onListening?.(bound),
    );
  }

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const grace = setTimeout(
      () => server?.closeAllConnections(),
      running.shutdownGraceMs ?? 10_000,
    );
    grace.unref();
    // The internal port stays open until the process exits: probes and scrapers still get
    // answers while in-flight work drains.
    const closed = new Promise<void>((resolve) =>
      server ? server.close(() => resolve()) : resolve(),
    );
    server?.closeIdleConnections();
    Promise.resolve(running.beforeDrain?.())
      .then(() => closed)
      .then(() => running.stop())
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'unclean shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Started by the local launcher (`npm start`), which opens an IPC channel: when the launcher
  // is gone, even by SIGKILL, stop too rather than run on as an orphan holding the port.
  // Elsewhere (Kubernetes, docker) there is no channel and this does nothing.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => shutdown('launcher gone'));
  }
}

/** Listens on `port`, logging once bound; a port that cannot be bound ends the process. */
function bind(
  server: Server,
  port: number,
  host: string,
  log: Logger,
  message: string,
  onListening?: () => void,
): void {
  server.listen(port, host, () => {
    const { port: bound } = server.address() as AddressInfo;
    log.info({ host, port: bound }, message);
    onListening?.();
  });
  server.on('error', (error) => {
    log.fatal({ err: error }, 'http server error');
    process.exit(1);
  });
}
