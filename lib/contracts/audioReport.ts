/**
 * What a worker reports of the MP3 it made, beside its duration and bitrate: stored in the MP3's
 * metadata (`audio.files`), served by media as `Audio.loudness` and `Audio.chapters`.
 */

/**
 * How the loudness was normalized: `SINGLE_PASS_DYNAMIC` while the upload streamed (loudnorm
 * cannot read ahead, so it adapts its gain as it goes); `TWO_PASS_LINEAR` from the stored file
 * (measured first, then one gain for the whole); `TWO_PASS_DYNAMIC` from the stored file where
 * one gain would have pushed the true peak past its limit, so loudnorm adapted it instead.
 */
export const LoudnessMode = {
  SINGLE_PASS_DYNAMIC: 'SINGLE_PASS_DYNAMIC',
  TWO_PASS_LINEAR: 'TWO_PASS_LINEAR',
  TWO_PASS_DYNAMIC: 'TWO_PASS_DYNAMIC',
} as const;
export type LoudnessMode = (typeof LoudnessMode)[keyof typeof LoudnessMode];

/** EBU R128 figures of the source's audio and of the normalized MP3, as loudnorm measured them. */
export interface LoudnessReport {
  mode: LoudnessMode;
  targetLufs: number;
  inputLufs: number;
  inputTruePeakDb: number;
  inputRangeLu: number;
  outputLufs: number;
  truePeakDb: number;
  rangeLu: number;
}

/** A chapter as written into the MP3 (ID3 CHAP, listed in its CTOC), in the MP3's time. */
export interface ChapterMark {
  title: string;
  startSeconds: number;
  endSeconds: number;
}

/**
 * One audio stream of a video, as a client is offered it (GraphQL `AudioStream`): the worker
 * probes it, the conversion record keeps it.
 */
export interface AudioStreamInfo {
  /** Its place among the file's audio streams, from 0 (`audioTrack: { index }`). */
  index: number;
  /** ISO 639-2 as the container tags it ("eng"), or null. */
  language: string | null;
  codec: string;
  channels: number;
  title: string | null;
}
