import type { ReelfluxClient } from '../../sdk/index.js';

/** What an SDK client saw of a conversion while a process was taken away under it. */
export interface WatchedThroughOutage {
  /** Every status watchConversion yielded, in order. */
  statuses: string[];
  /** Whether the conversion was seen RUNNING, and `outage` called. */
  interrupted: boolean;
}

/**
 * Follows conversion `id` with the SDK's watchConversion to its end, and calls `outage` (kill
 * a router, say) once, as soon as the conversion is RUNNING; the watch goes on after it.
 */
export async function watchThroughOutage(
  client: ReelfluxClient,
  id: string,
  outage: () => void | Promise<void>,
): Promise<WatchedThroughOutage> {
  const statuses: string[] = [];
  let interrupted = false;
  for await (const state of client.watchConversion(id)) {
    statuses.push(state.status);
    if (!interrupted && state.status === 'RUNNING') {
      interrupted = true;
      await outage();
    }
  }
  return { statuses, interrupted };
}
