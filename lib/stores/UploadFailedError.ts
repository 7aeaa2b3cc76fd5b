/** The upload a reader followed ended without a whole file: cut off, refused, or abandoned. */
export class UploadFailedError extends Error {
  override name = 'UploadFailedError';
}
