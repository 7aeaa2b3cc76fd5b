import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';

/** A fresh account for one benchmark run; returns its token. */
export async function signUpBenchUser(graphqlUrl: string): Promise<string> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `mutation { signUp(email: "bench-${randomUUID()}@example.com", password: "benchmark password") { token } }`,
    }),
  });
  const body = (await response.json()) as { data?: { signUp?: { token: string } } };
  const token = body.data?.signUp?.token;
  if (!token) throw new Error(`sign-up failed: ${JSON.stringify(body)}`);
  return token;
}

/** Uploads a file the way a user would, with curl streaming it from disk; returns the video id. */
export function curlUpload(
  graphqlUrl: string,
  token: string,
  path: string,
  mp3: Record<string, unknown> = {},
): Promise<string> {
  const operations = JSON.stringify({
    query:
      'mutation ($file: Upload!, $mp3: Mp3Options) { uploadVideo(file: $file, mp3: $mp3) { id } }',
    variables: { file: null, mp3 },
  });
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', [
      '-sS',
      graphqlUrl,
      '-H',
      `authorization: Bearer ${token}`,
      '-H',
      'apollo-require-preflight: true',
      '-F',
      `operations=${operations}`,
      '-F',
      'map={"0":["variables.file"]}',
      '-F',
      `0=@${path};type=video/mp4`,
    ]);
    let out = '';
    curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    curl.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    curl.on('exit', (code) => {
      try {
        const id = (JSON.parse(out) as { data?: { uploadVideo?: { id: string } } }).data
          ?.uploadVideo?.id;
        if (id) return resolve(id);
      } catch {
        // reported below
      }
      reject(new Error(`upload failed (curl exit ${code}): ${out.slice(0, 300)}`));
    });
  });
}
