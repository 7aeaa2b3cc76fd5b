import { setTimeout as sleep } from 'node:timers/promises';
import { UploadOutlastedJobError } from '../UploadOutlastedJobError.js';

/**
 * `work`, or at `deadline` an UploadOutlastedJobError if the upload still streams (the job is
 * then run later), else a plain error (the job limit ran out reading a stored file: retried).
 */
export function withDeadline<T>(
  work: Promise<T>,
  deadline: number,
  stillStreaming: () => Promise<boolean>,
): Promise<T> {
  const left = deadline - Date.now();
  const timer = new AbortController();
  const late = sleep(Math.max(0, left), undefined, { signal: timer.signal }).then(async () => {
    if (await stillStreaming()) throw new UploadOutlastedJobError();
    throw new Error('The video could not be read within the job limit');
  });
  late.catch(() => undefined);
  return Promise.race([work, late]).finally(() => timer.abort());
}
