import { postGraphQL } from './graphql.js';

export interface ConversionState {
  status: string;
  progress: number | null;
  attempts: number;
  error: { code: string } | null;
  audio: { id: string; durationSeconds: number } | null;
}

const QUERY =
  'query ($id: ID!) { conversion(id: $id) { status progress attempts error { code } audio { id durationSeconds } } }';

/** The conversion as its owner sees it through the router (null: not found, or an error). */
export async function conversionState(
  graphqlUrl: string,
  token: string,
  id: string,
): Promise<ConversionState | null> {
  const response = await postGraphQL<{ conversion: ConversionState }>(graphqlUrl, QUERY, {
    token,
    variables: { id },
  }).catch(() => null);
  return response?.body.data?.conversion ?? null;
}

/** Polls until the conversion satisfies `done` (by default: it has ended), or throws. */
export async function conversionUntil(
  graphqlUrl: string,
  token: string,
  id: string,
  options: { timeoutMs?: number; done?: ((state: ConversionState) => boolean) | undefined } = {},
): Promise<ConversionState> {
  const done =
    options.done ?? ((state) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(state.status));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const state = await conversionState(graphqlUrl, token, id);
    if (state && done(state)) return state;
    if (Date.now() > deadline) throw new Error(`conversion ${id} still ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
