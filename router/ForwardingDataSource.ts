import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import { CLIENT_REQUEST_BYTES_HEADER, type HopSigner } from '../lib/server/createInternalHop.js';
import { GraphQLDataSourceRequestKind } from './gatewayInternals.js';
import type { RouterContext } from './RouterContext.js';
import { findUploads } from './findUploads.js';
import { sendMultipartUpload } from './sendMultipartUpload.js';

/**
 * Sends each subgraph request with the caller's credentials and address: subgraphs verify
 * the token themselves and rate-limit by the client, not by the router. An operation carrying
 * an uploaded file goes out as a multipart request instead, the file streamed through.
 */
export class ForwardingDataSource extends RemoteGraphQLDataSource<RouterContext> {
  private readonly maxFileBytes: number;
  private readonly sign: HopSigner;

  constructor(options: {
    url: string;
    /** Signs what it sends (JSON requests are signed by the fetcher itself). */
    fetcher: Fetcher;
    maxFileBytes: number;
    /** The same signer, for the multipart requests that go around the fetcher. */
    sign: HopSigner;
  }) {
    super({ url: options.url, fetcher: options.fetcher });
    this.maxFileBytes = options.maxFileBytes;
    this.sign = options.sign;
  }

  override async process(
    options: GraphQLDataSourceProcessOptions<RouterContext>,
  ): Promise<GatewayGraphQLResponse> {
    const uploads = findUploads(options.request.variables);
    if (uploads.length === 0 || options.kind !== GraphQLDataSourceRequestKind.INCOMING_OPERATION) {
      return super.process(options);
    }
    const headers: Record<string, string> = {
      'x-forwarded-for': options.context.clientAddress,
    };
    if (options.context.authorization !== undefined)
      headers.authorization = options.context.authorization;
    if (options.context.requestBytes !== undefined)
      headers[CLIENT_REQUEST_BYTES_HEADER] = String(options.context.requestBytes);
    return sendMultipartUpload({
      url: this.url ?? '',
      headers,
      sign: this.sign,
      operation: {
        query: options.request.query ?? '',
        operationName: options.request.operationName,
        variables: options.request.variables ?? {},
      },
      uploads,
      maxFileBytes: this.maxFileBytes,
    });
  }

  /**
   * A subgraph that refuses a request whole (HTTP 4xx with GraphQL errors: a variable of the
   * wrong type, say) is the client's fault: its first error goes to the client with its code
   * and status, instead of a bare "400: Bad Request" that the router would mask as its own.
   */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    const error = await super.errorFromResponse(response);
    const { body } = (error.extensions.response ?? {}) as { body?: unknown };
    const first = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] })
      ?.errors?.[0];
    if (
      response.status >= 400 &&
      response.status < 500 &&
      typeof first?.message === 'string' &&
      typeof first.extensions?.code === 'string'
    ) {
      return new GraphQLError(first.message, {
        extensions: { code: first.extensions.code, http: { status: response.status } },
      });
    }
    return error;
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<RouterContext>): void {
    // Health checks and loading the supergraph carry no caller.
    if (options.kind !== GraphQLDataSourceRequestKind.INCOMING_OPERATION) return;
    const { context } = options;
    const headers = options.request.http?.headers;
    if (!headers) return;
    if (context.authorization !== undefined) headers.set('authorization', context.authorization);
    headers.set('x-forwarded-for', context.clientAddress);
  }
}
