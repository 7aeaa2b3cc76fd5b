import { PassThrough } from 'node:stream';
import { Upload, type FileUpload } from 'graphql-upload-minimal';

/**
 * A client's file as the router's multipart parser hands it on: an `Upload` whose stream the
 * test writes, ends, breaks off (`destroy(error)`) or marks over the limit (`emit('limit')`,
 * as busboy does).
 */
export function createFakeClientUpload(
  filename = 'holiday.mp4',
  mimetype = 'video/mp4',
): { upload: Upload; file: PassThrough } {
  const file = new PassThrough();
  const upload = new Upload() as Upload & { resolve(file: FileUpload): void };
  upload.resolve({
    filename,
    fieldName: '0',
    mimetype,
    encoding: '7bit',
    createReadStream: () => file as unknown as ReturnType<FileUpload['createReadStream']>,
  });
  return { upload, file };
}
