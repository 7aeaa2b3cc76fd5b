/**
 * What the router needs from @apollo/gateway that its package entry point does not export.
 * The one deep import into `dist/`, kept here so an upgrade that moves it breaks one line:
 * the kind of a data-source request (a client's operation, or the gateway's own health and
 * schema queries), which decides whether it carries the caller's headers and uploads.
 */
export { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
