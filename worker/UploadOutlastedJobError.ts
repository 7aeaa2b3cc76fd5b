/**
 * The upload was still streaming when the job's time limit came: the job is handed back, its
 * attempt returned, and runs again later (from the stored file once the upload has ended).
 */
export class UploadOutlastedJobError extends Error {
  override name = 'UploadOutlastedJobError';
  constructor() {
    super('The upload outlasted the job time limit (WORKER_JOB_TIMEOUT_SECONDS); running it later');
  }
}
