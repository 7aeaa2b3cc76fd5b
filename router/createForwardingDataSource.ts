import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { RouterContext } from './server.js';

/**
 * Sends each subgraph request with the caller's credentials and address: subgraphs verify
 * the token themselves and rate-limit by the client, not by the router.
 */
export class ForwardingDataSource extends RemoteGraphQLDataSource<RouterContext> {
  override willSendRequest({
    request,
    context,
  }: GraphQLDataSourceProcessOptions<RouterContext>): void {
    const headers = request.http?.headers;
    if (!headers || !('clientAddress' in context)) return;
    if (context.authorization !== undefined) headers.set('authorization', context.authorization);
    headers.set('x-forwarded-for', context.clientAddress);
  }
}
