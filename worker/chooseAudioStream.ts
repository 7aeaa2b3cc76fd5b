import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import type { AudioTrackChoice } from '../lib/contracts/mp3Options.js';
import { BadInputError } from './BadInputError.js';
import type { ProbeResult } from './probeMedia.js';

/**
 * The audio stream a conversion reads: the first, unless `audioTrack` asks for another by its
 * place among the audio streams or by language (the first in it). One the video lacks is
 * AUDIO_TRACK_NOT_FOUND, naming what it has.
 */
export function chooseAudioStream(
  probe: Pick<ProbeResult, 'audioStreams'>,
  choice: AudioTrackChoice | undefined,
): ProbeResult['audioStreams'][number] {
  const streams = probe.audioStreams;
  const found =
    choice === undefined
      ? streams[0]
      : 'index' in choice
        ? streams[choice.index]
        : streams.find((s) => s.language === choice.language);
  if (found) return found;
  if (streams.length === 0)
    throw new BadInputError(ConversionErrorCode.NO_AUDIO_STREAM, 'The file has no audio stream');
  const has = streams.map((s) => `${s.index}${s.language ? ` (${s.language})` : ''}`).join(', ');
  const asked =
    choice && 'index' in choice ? `index ${choice.index}` : `language ${choice?.language}`;
  throw new BadInputError(
    ConversionErrorCode.AUDIO_TRACK_NOT_FOUND,
    `The video has no audio track with ${asked}; it has ${has}`,
  );
}
