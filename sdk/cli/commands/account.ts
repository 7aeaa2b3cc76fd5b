import { UsageError } from '../arguments.js';
import type { Command, CommandContext } from '../Command.js';
import { saveCredentials } from '../credentials.js';
import { EXIT } from '../exitCodes.js';
import { readPassword } from '../readPassword.js';

/** signup and login: the same steps, and the token kept for the next commands. */
function accountCommand(name: 'signup' | 'login', summary: string): Command {
  return {
    name,
    synopsis: '--email E',
    summary,
    async run({ client, url, values, print }: CommandContext) {
      const email = values.email;
      if (!email) throw new UsageError(`${name} needs --email`);
      const password = await readPassword();
      const payload =
        name === 'signup'
          ? await client.signUp(email, password)
          : await client.logIn(email, password);
      const where = await saveCredentials({ url, token: payload.token, email });
      print(`${name === 'signup' ? 'Signed up' : 'Logged in'} as ${email} (token in ${where})`, {
        user: payload.user,
        expiresAt: payload.expiresAt,
      });
      return EXIT.OK;
    },
  };
}

export const signup = accountCommand(
  'signup',
  'create an account (password asked, or read from stdin)',
);
export const login = accountCommand(
  'login',
  'log in; the token is kept in your config folder (mode 0600)',
);
