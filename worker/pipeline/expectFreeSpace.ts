import { statfs } from 'node:fs/promises';

/**
 * Refuses to start what would not fit in the temp folder, as ffmpeg would fail on it later:
 * with ENOSPC, so the job is retried (perhaps on a worker with room) and ends DISK_FULL.
 */
export async function expectFreeSpace(dir: string, bytes: number): Promise<void> {
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (free < bytes) {
    throw Object.assign(
      new Error(`No space left on device: ${bytes} bytes needed in ${dir}, ${free} free`),
      { code: 'ENOSPC' },
    );
  }
}
