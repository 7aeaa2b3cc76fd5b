/**
 * The upload was still streaming when the job's time limit came: the job gives its worker
 * back, its attempt returned, and waits, set aside, for the upload to end.
 */
export class UploadOutlastedJobError extends Error {
  override name = 'UploadOutlastedJobError';
  constructor() {
    super(
      'The upload outlasted the job time limit (WORKER_JOB_TIMEOUT_SECONDS); converting once it has ended',
    );
  }
}
