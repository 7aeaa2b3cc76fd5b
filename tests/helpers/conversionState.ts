import { isFinalStatus } from '../../lib/contracts/conversionStatus.js';
import { postGraphQL } from './graphql.js';

export interface ConversionState {
  status: string;
  progress: number | null;
  attempts: number;
  error: { code: string } | null;
  audio: { id: string; durationSeconds: number } | null;
}

const STATE_FIELDS = 'status progress attempts error { code } audio { id durationSeconds }';

export interface ConversionQuery {
  /** The selection on Conversion; it must include `status`. */
  fields?: string;
}

/**
 * The conversion as its owner sees it through the router (null: not found, or an error).
 * `T` describes `fields`; the default selection gives ConversionState.
 */
export async function conversionState<T extends { status: string } = ConversionState>(
  graphqlUrl: string,
  token: string,
  id: string,
  options: ConversionQuery = {},
): Promise<T | null> {
  const query = `query ($id: ID!) { conversion(id: $id) { ${options.fields ?? STATE_FIELDS} } }`;
  const response = await postGraphQL<{ conversion: T }>(graphqlUrl, query, {
    token,
    variables: { id },
  }).catch(() => null);
  return response?.body.data?.conversion ?? null;
}

/** Polls until the conversion satisfies `done` (by default: it has ended), or throws. */
export async function conversionUntil<T extends { status: string } = ConversionState>(
  graphqlUrl: string,
  token: string,
  id: string,
  options: ConversionQuery & {
    timeoutMs?: number;
    done?: ((state: T) => boolean) | undefined;
  } = {},
): Promise<T> {
  const done = options.done ?? ((state) => isFinalStatus(state.status));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const state = await conversionState<T>(graphqlUrl, token, id, options);
    if (state && done(state)) return state;
    if (Date.now() > deadline) throw new Error(`conversion ${id} still ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
