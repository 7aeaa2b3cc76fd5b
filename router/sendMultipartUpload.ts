import { Agent, request, type IncomingMessage } from 'node:http';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { Upload } from 'graphql-upload-minimal';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';
import { graphqlMultipart } from '../lib/contracts/graphqlMultipart.js';
import type { HopSigner } from '../lib/server/createInternalHop.js';
import { readUploadAnswer } from './readUploadAnswer.js';

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Sends one subgraph operation as a GraphQL multipart request, re-streaming the client's file
 * part as it arrives: `source.pipe(upstream)` gives backpressure end to end, so neither memory
 * nor disk holds the file. The router enforces the upload limit too (busboy
 * only truncates an over-limit file), and a file that fails midway aborts the subgraph request
 * so the subgraph discards what it stored. The file's bytes cannot be hashed before they are
 * sent, so the signature covers the multipart Content-Type (its boundary included) as a
 * streamed upload, with the method, path, client address and token (see HopBody).
 */
export async function sendMultipartUpload(options: {
  url: string;
  /** X-Forwarded-For, Authorization and the client's request size, lower case. */
  headers: Record<string, string>;
  sign: HopSigner;
  operation: {
    query: string;
    operationName?: string | undefined;
    variables: Record<string, unknown>;
  };
  uploads: [string, Upload][];
  maxFileBytes: number;
}): Promise<GatewayGraphQLResponse> {
  const [first, ...rest] = options.uploads;
  if (!first || rest.length > 0) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, 'Exactly one file can be uploaded per request');
  }
  const [variable, upload] = first;
  const file = await upload.promise;
  const source = file.createReadStream();

  const { contentType, head, tail } = graphqlMultipart({
    operation: options.operation,
    fileVariable: variable,
    filename: file.filename,
    fileType: file.mimetype,
  });

  const target = new URL(options.url);
  const upstream = request(target, {
    method: 'POST',
    agent,
    headers: {
      ...options.headers,
      ...options.sign({
        method: 'POST',
        target: `${target.pathname}${target.search}`,
        headers: options.headers,
        body: { streamedUpload: contentType },
      }),
      'content-type': contentType,
      'apollo-require-preflight': 'true',
    },
  });

  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    source.unpipe(upstream);
    upstream.destroy(failure);
  };
  source.once('limit', () =>
    fail(
      graphqlError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `The file is larger than the ${options.maxFileBytes}-byte limit`,
        {},
        { httpStatus: true },
      ),
    ),
  );
  source.on('error', (error: Error) =>
    fail(
      graphqlError(
        ErrorCode.BAD_REQUEST,
        `The upload was interrupted before the file ended: ${error.message}`,
        {},
        { httpStatus: true },
      ),
    ),
  );
  let sent = false;
  source.once('end', () => {
    if (failure) return;
    sent = true;
    upstream.end(tail);
  });

  const response = new Promise<IncomingMessage>((resolve, reject) => {
    upstream.once('response', (answer) => {
      // Answered before the file ended (media refused the upload): stop sending it, and drop
      // the connection once the answer is read, since its request can never be finished.
      if (!sent) {
        source.unpipe(upstream);
        answer.once('end', () => upstream.destroy());
      }
      resolve(answer);
    });
    // `on`, not `once`: the connection can still fail after the answer, and that is no longer
    // anyone's concern.
    upstream.on('error', (error) =>
      reject(
        failure ??
          // The subgraph went away mid-stream (crashed, restarted, or cut a request that ran
          // past its own time limit): not a bug here, and worth a retry.
          graphqlError(
            ErrorCode.SERVICE_UNAVAILABLE,
            `The upload was cut off by the media service (${error.message}); try again`,
          ),
      ),
    );
  });
  upstream.write(head);
  source.pipe(upstream, { end: false });

  return readUploadAnswer(await response);
}
