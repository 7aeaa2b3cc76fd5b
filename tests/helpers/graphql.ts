export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: T | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

/** What goes with a GraphQL operation besides its text. */
export interface PostOptions {
  variables?: Record<string, unknown>;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

/** POSTs one GraphQL operation as JSON, the way any client would. */
export async function postGraphQL<T = Record<string, unknown>>(
  url: string,
  query: string,
  options: PostOptions = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse<T>['body'],
  };
}

/** The `extensions.code` of each error, for precise assertions. */
export function errorCodes(response: Pick<GraphQLResponse<unknown>, 'body'>): unknown[] {
  return (response.body.errors ?? []).map((error) => error.extensions?.code);
}

/** Codes counted, in words for SECURITY.md's tables: `1 × QUOTA_EXCEEDED, 2 × none`. */
export function tallyCodes(codes: string[]): string {
  const counts = new Map<string, number>();
  for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${n} × ${code}`)
    .join(', ');
}
