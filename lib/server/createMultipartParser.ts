import type { ReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { Upload, type FileUpload } from 'graphql-upload-minimal';
import { ErrorCode, httpStatusFor } from '../contracts/errors.js';
import { closeAfterAnswer, sendError } from './http.js';

export interface MultipartLimits {
  /** Largest file accepted; one byte more and the file stream signals `limit`. */
  maxFileBytes: number;
  /** Largest `operations` or `map` field, in bytes. @default 1_000_000 */
  maxFieldBytes?: number;
  /**
   * How long `operations` and `map` may take to arrive. The file that follows is bounded by
   * the server's request time limit instead, since a large upload takes long. @default 20_000
   */
  headTimeoutMs?: number;
  /**
   * Refuse a multipart request whose map names no file. Media sets it: a multipart request
   * there is the router's streamed upload, whose signature does not cover the bytes, and must
   * be an upload indeed. @default false
   */
  requireFile?: boolean;
}

/** graphql-upload-minimal's Upload as its JavaScript has it: its typings leave these two out. */
type PendingUpload = Upload & { resolve(file: FileUpload): void; reject(error: Error): void };

/**
 * A request that is not a GraphQL multipart request this server takes, with its code. Thrown
 * from a resolver (its file failed after the operation was read), graphql-js copies its
 * `extensions` onto the error, so the client gets the code and Apollo the HTTP status.
 */
export class MultipartError extends Error {
  override name = 'MultipartError';
  readonly extensions: { code: ErrorCode; http: { status: number } };
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.extensions = { code, http: { status: httpStatusFor[code] } };
  }
}

/**
 * Parses GraphQL multipart requests (the multipart request spec) for createGraphQLHandler:
 * `operations` and `map` are read, the file stays a stream for the resolver or the router's
 * passthrough. One file per request. Spec violations answer 400 (413 for size, 408 for a
 * head that never arrives) before anything runs; CSRF prevention is applied first, as Apollo
 * would, so a cross-site form post never reaches the parser.
 */
export function createMultipartParser(limits: MultipartLimits) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    if (!req.headers['content-type']?.toLowerCase().startsWith('multipart/form-data'))
      return undefined;
    if (!req.headers['apollo-require-preflight'] && !req.headers['x-apollo-operation-name']) {
      sendError(
        res,
        ErrorCode.BAD_REQUEST,
        'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Send the header Apollo-Require-Preflight: true with multipart uploads.',
      );
      return undefined;
    }
    try {
      return await readGraphQLMultipart(req, limits);
    } catch (error) {
      if (!(error instanceof MultipartError)) throw error;
      closeAfterAnswer(req, res);
      sendError(res, error.code, error.message);
      return undefined;
    }
  };
}

/**
 * Reads a multipart request's `operations` and `map` and resolves with the operation, its
 * file variable holding an `Upload` whose file streams as the request goes on. Written on
 * busboy directly so that every event the parser, the file and the request can emit has a
 * listener for as long as they live: busboy reports one malformed request twice (a bad part
 * header, then the form's unexpected end when the parser is destroyed), and a second `error`
 * with no listener would end the process. Rejects with a MultipartError only; a failure after
 * the operation resolved destroys the file stream with it, which its reader then reports.
 */
export function readGraphQLMultipart(
  req: IncomingMessage,
  limits: MultipartLimits,
): Promise<Record<string, unknown>> {
  const maxFieldBytes = limits.maxFieldBytes ?? 1_000_000;
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: {
          fieldSize: maxFieldBytes,
          fields: 2,
          files: 1,
          // busboy signals `limit` on reaching its limit, before it can know whether more
          // bytes follow; one byte of headroom makes the signal mean "over the limit" exactly.
          fileSize: limits.maxFileBytes + 1,
          headerPairs: 8,
        },
      });
    } catch (error) {
      reject(
        new MultipartError(
          ErrorCode.BAD_REQUEST,
          `Malformed multipart request: ${messageOf(error)}`,
        ),
      );
      return;
    }

    let operations: Record<string, unknown> | undefined;
    let mapped: { field: string; upload: PendingUpload } | undefined;
    let fileStream: Readable | undefined;
    let failure: MultipartError | undefined;
    let resolved = false;

    const fail = (error: MultipartError) => {
      if (failure) return;
      failure = error;
      clearTimeout(headTimer);
      if (!resolved) reject(error);
      mapped?.upload.reject(error);
      if (fileStream && !fileStream.readableEnded) fileStream.destroy(error);
      req.unpipe(parser);
      // Destroying the parser makes busboy emit one more error, which the listener below takes.
      parser.destroy();
      // The rest of the body is read and dropped (closeAfterAnswer ends the connection).
      req.resume();
    };
    const malformed = (message: string) => fail(new MultipartError(ErrorCode.BAD_REQUEST, message));

    const headTimer = setTimeout(
      () =>
        fail(
          new MultipartError(
            ErrorCode.REQUEST_TIMEOUT,
            `The multipart fields 'operations' and 'map' did not arrive within ${limits.headTimeoutMs ?? 20_000} ms`,
          ),
        ),
      limits.headTimeoutMs ?? 20_000,
    );
    headTimer.unref();

    parser.on('error', (error: Error) =>
      malformed(`Malformed multipart request: ${error.message}`),
    );
    parser.on('fieldsLimit', () =>
      malformed("Only the fields 'operations' and 'map' are accepted"),
    );
    parser.on('filesLimit', () => malformed('Exactly one file can be uploaded per request'));

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        fail(
          new MultipartError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `The '${name}' multipart field is over ${maxFieldBytes} bytes`,
          ),
        );
        return;
      }
      if (name === 'operations' && operations === undefined) {
        const parsed = parseJsonField(value);
        if (Array.isArray(parsed))
          return malformed('Batched operations are not accepted with uploads');
        if (!isRecord(parsed)) return malformed("The 'operations' field is not a JSON object");
        operations = parsed;
        return;
      }
      if (name === 'map' && operations !== undefined && mapped === undefined) {
        const problem = applyMap(
          operations,
          parseJsonField(value),
          limits.requireFile ?? false,
          (field, upload) => {
            mapped = { field, upload };
          },
        );
        if (problem) return malformed(problem);
        clearTimeout(headTimer);
        resolved = true;
        resolve(operations);
        return;
      }
      malformed(
        `Unexpected multipart field '${name}': send 'operations', then 'map', then the file`,
      );
    });

    parser.on('file', (name, stream, info) => {
      // Whatever becomes of this stream, its errors are heard here first (busboy ends a cut-off
      // file with an error of its own before it reports the form's end).
      let streamError: MultipartError | undefined;
      stream.on('error', (error: Error) => {
        streamError ??=
          error instanceof MultipartError
            ? error
            : new MultipartError(
                ErrorCode.BAD_REQUEST,
                `The upload was interrupted before the file ended: ${error.message}`,
              );
      });
      if (!mapped) {
        stream.resume();
        malformed("The file came before the 'map' field that names it");
        return;
      }
      if (name !== mapped.field) {
        stream.resume();
        malformed(`The file part '${name}' is not in the map`);
        return;
      }
      fileStream = stream;
      let taken = false;
      const file: FileUpload = {
        fieldName: name,
        filename: info.filename ?? '',
        mimetype: info.mimeType,
        encoding: info.encoding,
        createReadStream() {
          const error = failure ?? streamError;
          if (error) throw error;
          if (taken) throw new Error('The file stream was taken already');
          taken = true;
          // Typed as fs's ReadStream by graphql-upload-minimal; its readers use Readable's API only.
          return stream as ReadStream;
        },
      };
      mapped.upload.resolve(file);
    });

    parser.on('close', () => {
      if (failure) return;
      if (operations === undefined) return malformed("Missing multipart field 'operations'");
      if (!mapped) {
        if (!resolved) malformed("Missing multipart field 'map'");
        return;
      }
      if (!mapped.upload.file) malformed('The file named in the map is missing from the request');
    });

    req.on('close', () => {
      if (!req.readableEnded) malformed('The request ended before its body did');
    });
    req.pipe(parser);
  });
}

/**
 * Places one Upload where the map says, refusing what the server does not take: more than one
 * file, a file in more than one place, or a path that does not end at a `null` variable (the
 * spec's placeholder), so no path can reach a prototype or replace part of the query.
 */
function applyMap(
  operations: Record<string, unknown>,
  map: unknown,
  requireFile: boolean,
  place: (field: string, upload: PendingUpload) => void,
): string | undefined {
  if (!isRecord(map)) return "The 'map' field is not a JSON object";
  const entries = Object.entries(map);
  if (entries.length === 0)
    return requireFile ? 'A multipart request here must carry one file' : undefined;
  const [entry, ...more] = entries;
  if (!entry || more.length > 0) return 'Exactly one file can be uploaded per request';
  const [field, paths] = entry;
  if (!Array.isArray(paths) || paths.length !== 1 || typeof paths[0] !== 'string')
    return `The map must give the file '${field}' exactly one path`;
  // Only a top-level variable: that is where the router and media look for the file.
  const [root, name, ...deeper] = paths[0].split('.');
  const variables = operations.variables;
  if (
    root !== 'variables' ||
    name === undefined ||
    deeper.length > 0 ||
    !isRecord(variables) ||
    !Object.hasOwn(variables, name) ||
    variables[name] !== null
  )
    return `The map's path '${paths[0]}' is not a top-level variable set to null in 'operations'`;
  const upload = new Upload() as PendingUpload;
  variables[name] = upload;
  place(field, upload);
  return undefined;
}

function parseJsonField(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
