import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { configDirectory } from './credentials.js';

/**
 * Uploads `reelflux convert` began and has not seen end, kept beside the credentials
 * (`uploads.json`, readable by its owner only) so that `reelflux convert --resume` picks one up
 * after the CLI was killed. Each is keyed by the file's fingerprint: its absolute path, size
 * and modification time, so a file changed since is never resumed into an old upload.
 */
interface PendingUpload {
  /** The tus upload's URL. */
  url: string;
  path: string;
  server: string;
  savedAt: string;
}

type PendingUploads = Record<string, PendingUpload>;

/** The file's fingerprint, and the server it goes to (an upload belongs to one server). */
export async function uploadFingerprint(path: string, server: string): Promise<string> {
  const file = await stat(path);
  return createHash('sha256')
    .update(JSON.stringify([resolve(path), file.size, file.mtimeMs, server]))
    .digest('hex');
}

const fileOf = (env: NodeJS.ProcessEnv) => join(configDirectory(env), 'uploads.json');

async function readAll(env: NodeJS.ProcessEnv): Promise<PendingUploads> {
  try {
    return JSON.parse(await readFile(fileOf(env), 'utf8')) as PendingUploads;
  } catch {
    return {};
  }
}

async function writeAll(uploads: PendingUploads, env: NodeJS.ProcessEnv): Promise<void> {
  await mkdir(configDirectory(env), { recursive: true, mode: 0o700 });
  const path = fileOf(env);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(uploads, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** The unfinished upload of this file to this server, if the CLI left one. */
export async function findPendingUpload(
  fingerprint: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  return (await readAll(env))[fingerprint]?.url;
}

export async function rememberPendingUpload(
  fingerprint: string,
  upload: { url: string; path: string; server: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const uploads = await readAll(env);
  uploads[fingerprint] = {
    ...upload,
    path: resolve(upload.path),
    savedAt: new Date().toISOString(),
  };
  await writeAll(uploads, env);
}

export async function forgetPendingUpload(
  fingerprint: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const uploads = await readAll(env);
  if (!(fingerprint in uploads)) return;
  delete uploads[fingerprint];
  await writeAll(uploads, env);
}
