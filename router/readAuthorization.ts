/**
 * The Authorization header a graphql-ws client sent in `connection_init`: `{ authorization:
 * "Bearer …" }` as the SDK and the docs send it; `Authorization` and a `headers` object are
 * accepted too, as other clients (and Sandbox's header panel) send them.
 */
export function readAuthorization(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined;
  const headers = params.headers;
  const candidates = [
    params.authorization,
    params.Authorization,
    typeof headers === 'object' && headers !== null
      ? ((headers as Record<string, unknown>).authorization ??
        (headers as Record<string, unknown>).Authorization)
      : undefined,
  ];
  const found = candidates.find((value) => typeof value === 'string' && value !== '');
  return found as string | undefined;
}
