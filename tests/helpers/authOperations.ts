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
