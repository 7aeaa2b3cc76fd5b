import { Upload } from 'graphql-upload-minimal';

/** Top-level variables holding a file from the client's multipart request. */
export function findUploads(variables: Record<string, unknown> | undefined): [string, Upload][] {
  return Object.entries(variables ?? {}).filter(
    (entry): entry is [string, Upload] => entry[1] instanceof Upload,
  );
}
