/**
 * The upload the job follows sent nothing new for WORKER_UPLOAD_STALL_SECONDS while still
 * open: the job gives its worker back and waits, set aside, for the upload to end.
 */
export class UploadStalledError extends Error {
  override name = 'UploadStalledError';
  constructor(stallMs: number) {
    super(
      `The upload sent nothing for ${stallMs / 1000} s; converting once it has ended (WORKER_UPLOAD_STALL_SECONDS)`,
    );
  }
}
