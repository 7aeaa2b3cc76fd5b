import {
  bodyDigest,
  createInternalHop,
  HOP_HEADER,
  type HopBody,
} from '../../lib/server/createInternalHop.js';
import { readSecret } from '../../lib/platform/readSecret.js';
import { postGraphQL, type GraphQLResponse, type PostOptions } from './graphql.js';

/** A request to a subgraph, as a test sends it around the router. */
export interface DirectRequest {
  url: string;
  /** @default 'POST' */
  method?: string;
  /** Headers sent besides the signature; those in SIGNED_HEADERS are signed. */
  headers?: Record<string, string>;
  /** The body sent whole; or, for a multipart upload, the Content-Type it goes with. */
  body?: string;
  streamedUpload?: string;
}

/**
 * The header the router would sign this very request with, made from the secret in `env` (a
 * stack's environment), for tests that call a subgraph directly as the router would. Good for
 * that request alone and for HOP_MAX_AGE_SECONDS: sign just before sending.
 */
export function routerHopHeaders(
  env: NodeJS.ProcessEnv,
  request: DirectRequest,
): Record<string, string> {
  const target = new URL(request.url);
  const headers = Object.fromEntries(
    Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const body: HopBody =
    request.streamedUpload === undefined
      ? bodyDigest(request.body ?? '')
      : { streamedUpload: request.streamedUpload };
  const hop = createInternalHop(readSecret(env, 'INTERNAL_HOP_SECRET'));
  return {
    [HOP_HEADER]: hop.sign({
      method: request.method ?? 'POST',
      target: `${target.pathname}${target.search}`,
      headers,
      body,
    }),
  };
}

/** postGraphQL straight to a subgraph, signed as the router signs. */
export function postGraphQLAsRouter<T = Record<string, unknown>>(
  env: NodeJS.ProcessEnv,
  url: string,
  query: string,
  options: PostOptions = {},
): Promise<GraphQLResponse<T>> {
  // What postGraphQL sends, so the signature fits that very request.
  const body = JSON.stringify({ query, variables: options.variables });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
  return postGraphQL<T>(url, query, {
    ...options,
    headers: { ...options.headers, ...routerHopHeaders(env, { url, headers, body }) },
  });
}
