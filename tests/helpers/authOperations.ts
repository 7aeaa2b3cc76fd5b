import { postGraphQL } from './graphql.js';
import { uniqueName } from './uniqueName.js';

export const PASSWORD = 'correct horse battery';

export const SIGN_UP = /* GraphQL */ `
  mutation ($email: String!, $password: String!) {
    signUp(email: $email, password: $password) {
      token
      expiresAt
      user {
        id
        email
        createdAt
      }
    }
  }
`;

export const LOG_IN = /* GraphQL */ `
  mutation ($email: String!, $password: String!) {
    logIn(email: $email, password: $password) {
      token
      user {
        id
        email
      }
    }
  }
`;

export interface TestUser {
  email: string;
  token: string;
  id: string;
}

/**
 * A new account (a unique email, PASSWORD) signed up through `graphqlUrl`; `headers` name its
 * client (`X-Forwarded-For`) where a test counts per address.
 */
export async function signUpUser(
  graphqlUrl: string,
  headers: Record<string, string> = {},
): Promise<TestUser> {
  const email = `${uniqueName('user')}@example.com`;
  const response = await postGraphQL<{ signUp: { token: string; user: { id: string } } }>(
    graphqlUrl,
    SIGN_UP,
    { variables: { email, password: PASSWORD }, headers },
  );
  const payload = response.body.data?.signUp;
  if (!payload) throw new Error(`sign-up failed: ${JSON.stringify(response.body)}`);
  return { email, token: payload.token, id: payload.user.id };
}

/** A new account's token. */
export async function signUpToken(graphqlUrl: string): Promise<string> {
  return (await signUpUser(graphqlUrl)).token;
}
