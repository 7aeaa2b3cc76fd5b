import { UploadStalledError } from './UploadStalledError.js';

export interface UploadStallWatch {
  /**
   * Aborted, with an UploadStalledError as its reason, once the upload has sent nothing new
   * for `stallMs` while it is still open.
   */
  signal: AbortSignal;
  /** Tells the watch a piece of the upload arrived. */
  saw(): void;
  stop(): void;
}

/**
 * Watches a job that follows an upload as it streams: a worker waiting on an upload that has
 * stopped sending (or trickles a byte at a time) holds a place other users' jobs could use.
 * The store is asked whether the upload is still open only once the upload has been quiet for
 * `stallMs`; once it has ended, nothing more can stall and the watch stops.
 */
export function createUploadStallWatch(options: {
  stallMs: number;
  /** Whether the upload is still open (neither stored whole nor gone). */
  stillStreaming: () => Promise<boolean>;
}): UploadStallWatch {
  const controller = new AbortController();
  let lastSeen = Date.now();
  let checking = false;
  const stop = () => clearInterval(timer);
  const timer = setInterval(
    () => {
      if (checking || Date.now() - lastSeen < options.stallMs) return;
      checking = true;
      options
        .stillStreaming()
        .then((streaming) => {
          if (!streaming) stop();
          else if (Date.now() - lastSeen >= options.stallMs) {
            stop();
            controller.abort(new UploadStalledError(options.stallMs));
          }
        })
        // The store is away: the job's own reads fail and say so.
        .catch(() => undefined)
        .finally(() => (checking = false));
    },
    Math.min(500, options.stallMs / 2),
  );
  timer.unref();
  return {
    signal: controller.signal,
    saw: () => (lastSeen = Date.now()),
    stop,
  };
}
