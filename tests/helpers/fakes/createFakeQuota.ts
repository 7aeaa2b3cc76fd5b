import type { StorageQuota } from '../../../lib/stores/storageQuota.js';

/** Storage with room for everything. */
export function createFakeQuota(): Pick<StorageQuota, 'reserve' | 'release' | 'maxBytes'> {
  return {
    maxBytes: Number.MAX_SAFE_INTEGER,
    reserve: async () => true,
    release: async () => undefined,
  };
}
