import { createInternalHop, HOP_HEADER } from '../../lib/server/createInternalHop.js';
import { readSecret } from '../../lib/platform/readSecret.js';

/**
 * The header the router signs its subgraph requests with, made from the secret in `env` (a
 * stack's environment), for tests that call a subgraph directly as the router would.
 */
export function routerHopHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  return { [HOP_HEADER]: createInternalHop(readSecret(env, 'INTERNAL_HOP_SECRET')).sign() };
}
