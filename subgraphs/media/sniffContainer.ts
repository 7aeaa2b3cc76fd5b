/** Bytes needed to decide: MPEG-TS needs three 188-byte packets, the rest far fewer. */
export const SNIFF_BYTES = 564;

export interface SniffResult {
  /** The stored Content-Type: decided here, never taken from the client. */
  contentType: string;
  /** True for audio-only containers a user may send by mistake; ffmpeg still converts them. */
  audioOnly: boolean;
}

const ascii = (bytes: Buffer, at: number, text: string) =>
  bytes.length >= at + text.length && bytes.toString('latin1', at, at + text.length) === text;

/**
 * Recognises the containers phones, cameras and browsers produce from their first bytes, or
 * returns null for anything else (text, images, archives, empty). A shallow check on purpose:
 * it keeps obvious non-media out of storage; ffprobe in the worker does the deep one.
 */
export function sniffContainer(head: Buffer): SniffResult | null {
  const video = (contentType: string) => ({ contentType, audioOnly: false });
  const audio = (contentType: string) => ({ contentType, audioOnly: true });

  if (ascii(head, 4, 'ftyp')) {
    const brand = head.toString('latin1', 8, 12);
    if (brand.startsWith('3g')) return video('video/3gpp');
    if (brand === 'qt  ') return video('video/quicktime');
    if (brand === 'M4A ' || brand === 'M4B ') return audio('audio/mp4');
    return video('video/mp4');
  }
  // Old QuickTime files start with other atoms.
  if (['moov', 'mdat', 'wide', 'free', 'skip'].some((atom) => ascii(head, 4, atom))) {
    return video('video/quicktime');
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) {
    return video(head.subarray(0, 64).includes('webm') ? 'video/webm' : 'video/x-matroska');
  }
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'AVI ')) return video('video/x-msvideo');
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WAVE')) return audio('audio/wav');
  if (ascii(head, 0, 'FLV') && head[3] === 1) return video('video/x-flv');
  if (ascii(head, 0, 'OggS')) return video('application/ogg');
  if (head.length >= 4 && head.readUInt32BE(0) === 0x000001ba) return video('video/mpeg');
  if (head.length >= 16 && head.subarray(0, 16).equals(ASF_GUID)) return video('video/x-ms-asf');
  if (head.length >= 377 && head[0] === 0x47 && head[188] === 0x47 && head[376] === 0x47) {
    return video('video/mp2t');
  }
  if (ascii(head, 0, 'ID3')) return audio('audio/mpeg');
  if (ascii(head, 0, 'fLaC')) return audio('audio/flac');
  // MPEG audio frame sync (MP3 or ADTS AAC): 11 set bits.
  if (head.length >= 2 && head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0) {
    return ((head[1] ?? 0) & 0x06) === 0 ? audio('audio/aac') : audio('audio/mpeg');
  }
  return null;
}

const ASF_GUID = Buffer.from('3026b2758e66cf11a6d900aa0062ce6c', 'hex');
