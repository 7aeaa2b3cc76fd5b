import type { IncomingMessage, ServerResponse } from 'node:http';
import { processRequest } from 'graphql-upload-minimal';
import { ErrorCode } from '../contracts/errors.js';
import { closeAfterAnswer, sendError } from './http.js';

/**
 * Parses GraphQL multipart requests (the multipart request spec) for createGraphQLHandler:
 * `operations` and `map` are read, the file stays a stream for the resolver or the router's
 * passthrough. One file per request. Spec violations answer 400 (413 for size) before
 * anything runs; CSRF prevention is applied first, as Apollo would, so a cross-site form
 * post never reaches the parser.
 */
export function createMultipartParser(options: { maxFileBytes: number }) {
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
      const operations = await processRequest(req, res, {
        // busboy signals `limit` on reaching its limit, before it can know whether more bytes
        // follow; one byte of headroom makes the signal mean "over the limit" exactly.
        maxFileSize: options.maxFileBytes + 1,
        maxFiles: 1,
        maxFieldSize: 1_000_000,
      });
      if (Array.isArray(operations)) {
        sendError(res, ErrorCode.BAD_REQUEST, 'Batched operations are not accepted with uploads');
        return undefined;
      }
      return operations;
    } catch (error) {
      const status = (error as { status?: number }).status;
      const message = error instanceof Error ? error.message : 'Malformed multipart request';
      // The parser answers 413 for "too many files" as well; that is a malformed request.
      const tooBig = status === 413 && !/max file uploads/.test(message);
      closeAfterAnswer(req, res);
      sendError(res, tooBig ? ErrorCode.PAYLOAD_TOO_LARGE : ErrorCode.BAD_REQUEST, message);
      return undefined;
    }
  };
}
