import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

export interface Credentials {
  url: string;
  token?: string;
  email?: string;
}

/** `$XDG_CONFIG_HOME/reelflux` (or `~/.config/reelflux`; `%APPDATA%\reelflux` on Windows). */
export function configDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REELFLUX_CONFIG_DIR) return env.REELFLUX_CONFIG_DIR;
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'reelflux');
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'reelflux');
}

/** What `reelflux login` stored, with REELFLUX_URL and REELFLUX_TOKEN taking precedence. */
export async function loadCredentials(env: NodeJS.ProcessEnv = process.env): Promise<Credentials> {
  let stored: Partial<Credentials> = {};
  try {
    stored = JSON.parse(
      await readFile(join(configDirectory(env), 'credentials.json'), 'utf8'),
    ) as Partial<Credentials>;
  } catch {
    // Not logged in yet, or an unreadable file: start from nothing.
  }
  const token = env.REELFLUX_TOKEN ?? stored.token;
  return {
    url: env.REELFLUX_URL ?? stored.url ?? DEFAULT_URL,
    ...(token ? { token } : {}),
    ...(stored.email ? { email: stored.email } : {}),
  };
}

/** Writes the token readable by its owner only (0600, in a 0700 folder), replaced atomically. */
export async function saveCredentials(
  credentials: Credentials,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const directory = configDirectory(env);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, 'credentials.json');
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  // The mode above is masked by the umask; set it exactly.
  await chmod(temporary, 0o600);
  await rename(temporary, path);
  return path;
}
