// http_ece ships no types: these cover the one call the tests make, reading a push as a
// browser would (tests/helpers/pushEndpoint.ts).
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';

  export interface DecryptParams {
    version: 'aes128gcm';
    /** The receiver's key pair; the sender's public key comes from the record header. */
    privateKey: ECDH;
    authSecret: Buffer;
  }

  /** The plaintext; throws when the body does not decrypt (wrong keys, altered bytes). */
  export function decrypt(buffer: Buffer, params: DecryptParams): Buffer;
}
