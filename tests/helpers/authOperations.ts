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

/** A new account (a unique email, PASSWORD) signed up through `graphqlUrl`; its token. */
export async function signUpToken(graphqlUrl: string): Promise<string> {
  const response = await postGraphQL<{ signUp: { token: string } }>(graphqlUrl, SIGN_UP, {
    variables: { email: `${uniqueName('user')}@example.com`, password: PASSWORD },
  });
  const token = response.body.data?.signUp.token;
  if (!token) throw new Error(`sign-up failed: ${JSON.stringify(response.body)}`);
  return token;
}
