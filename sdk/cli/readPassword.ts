import { createInterface } from 'node:readline';
import { ReelfluxError } from '../ReelfluxError.js';
import { UsageError } from './arguments.js';

/** Hidden prompt on a terminal; otherwise the first line of stdin (for scripts). */
export async function readPassword(): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const lines = createInterface({ input });
    for await (const line of lines) {
      lines.close();
      return line;
    }
    throw new UsageError('no password on stdin');
  }
  process.stderr.write('Password: ');
  input.setRawMode(true);
  input.resume();
  let password = '';
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          input.setRawMode(false);
          input.pause();
          input.off('data', onData);
          process.stderr.write('\n');
          resolve(password);
          return;
        }
        if (char === '\u0003') {
          input.setRawMode(false);
          reject(new ReelfluxError('CANCELLED', 'cancelled'));
          return;
        }
        password = char === '\u007f' ? password.slice(0, -1) : password + char;
      }
    };
    input.on('data', onData);
  });
}
