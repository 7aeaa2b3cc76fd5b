import type { IncomingMessage } from 'node:http';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';

/**
 * Media's answer to a streamed upload, read whole: its GraphQL response as it came (errors and
 * their codes included), or a GraphQL error for an answer that is not one.
 */
export async function readUploadAnswer(answer: IncomingMessage): Promise<GatewayGraphQLResponse> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as GatewayGraphQLResponse;
  } catch {
    // A subgraph's plain-HTTP error (e.g. 413 from its own parser) has the same JSON shape;
    // anything else is reported as it came.
    if (answer.statusCode === 408) {
      throw graphqlError(ErrorCode.BAD_REQUEST, 'The upload took longer than the time limit');
    }
    throw graphqlError(
      ErrorCode.INTERNAL_SERVER_ERROR,
      `Upload failed: subgraph answered ${answer.statusCode}`,
    );
  }
}
