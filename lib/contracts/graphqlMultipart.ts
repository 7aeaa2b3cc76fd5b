import { filenameParameters } from './filenameParameters.js';

/*
 * The framing of a GraphQL multipart request with one file (the spec's `operations`, `map`,
 * then the file part), for the two that send one: the router re-sending a client's upload to
 * media, and the SDK. Each streams the file between `head` and `tail` itself, as its own
 * errors and progress need. Imports only filenameParameters, so the SDK can share it.
 */

export interface GraphQLMultipart {
  /** The request's Content-Type, with its boundary. */
  contentType: string;
  /** Everything before the file's bytes. */
  head: string;
  /** Everything after them. */
  tail: string;
}

export function graphqlMultipart(options: {
  operation: { query: string; operationName?: string | undefined; variables: object };
  /** The top-level variable the file goes into, e.g. `file`. */
  fileVariable: string;
  filename: string;
  /** The file's type as given; control characters are dropped, empty means octet-stream. */
  fileType: string;
}): GraphQLMultipart {
  const boundary = `----reelflux${globalThis.crypto.randomUUID().replaceAll('-', '')}`;
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const variables = { ...options.operation.variables, [options.fileVariable]: null };
  const type = options.fileType.replace(/[\r\n]/g, '') || 'application/octet-stream';
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head:
      field('operations', JSON.stringify({ ...options.operation, variables })) +
      field('map', JSON.stringify({ 0: [`variables.${options.fileVariable}`] })) +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; ${filenameParameters(options.filename)}\r\n` +
      `Content-Type: ${type}\r\n\r\n`,
    tail: `\r\n--${boundary}--\r\n`,
  };
}
