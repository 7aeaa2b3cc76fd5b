import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
import type { RouterContext } from './server.js';

/**
 * Sends each subgraph request with the caller's credentials and address: subgraphs verify
 * the token themselves and rate-limit by the client, not by the router.
 */
export class ForwardingDataSource extends RemoteGraphQLDataSource<RouterContext> {
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
