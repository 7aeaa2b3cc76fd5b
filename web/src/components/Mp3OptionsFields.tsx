import { MP3_MAX_TAG_LENGTH, MP3_SAMPLE_RATES } from '../../../lib/contracts/mp3Options.js';
import { useId } from 'preact/hooks';
import type { Mp3Choice } from '../mp3Choice.js';

const BITRATES = [64, 96, 128, 160, 192, 256, 320];
const VBR_QUALITIES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

type TextKey = 'startSeconds' | 'endSeconds' | 'title' | 'artist' | 'track';
type InputAttributes =
  | { type: 'number'; min: number; step: string; inputMode: 'decimal' }
  | { type: 'text'; maxLength: number; placeholder?: string };
const SECONDS_INPUT: InputAttributes = {
  type: 'number',
  min: 0,
  step: 'any',
  inputMode: 'decimal',
};
const TAG_INPUT = { type: 'text', maxLength: MP3_MAX_TAG_LENGTH } as const;

/** The MP3 options, as a fieldset for the upload form and for "Convert again". */
export function Mp3OptionsFields({
  value,
  onChange,
}: {
  value: Mp3Choice;
  onChange: (next: Mp3Choice) => void;
}) {
  const set = <K extends keyof Mp3Choice>(key: K, next: Mp3Choice[K]) =>
    onChange({ ...value, [key]: next });
  // Several of these forms can be on the page at once (upload, each "Convert again").
  const id = useId();
  const idOf = (key: keyof Mp3Choice) => `${id}-${key}`;
  /** A labelled input for one of the choice's text fields (trim times, ID3 tags). */
  const textField = (key: TextKey, label: string, attributes: InputAttributes) => (
    <div class="field">
      <label for={idOf(key)}>{label}</label>
      <input
        id={idOf(key)}
        {...attributes}
        value={value[key]}
        onInput={(event) => set(key, event.currentTarget.value)}
      />
    </div>
  );
  return (
    <fieldset class="mp3-options">
      <legend>MP3 options</legend>
      <div class="field-row">
        <div class="field">
          <label for={idOf('mode')}>Encoding</label>
          <select
            id={idOf('mode')}
            value={value.mode}
            onChange={(event) => set('mode', event.currentTarget.value as Mp3Choice['mode'])}
          >
            <option value="constant">Constant bitrate</option>
            <option value="variable">Variable bitrate (VBR)</option>
          </select>
        </div>
        {value.mode === 'constant' ? (
          <div class="field">
            <label for={idOf('bitrateKbps')}>Bitrate</label>
            <select
              id={idOf('bitrateKbps')}
              value={value.bitrateKbps}
              onChange={(event) => set('bitrateKbps', event.currentTarget.value)}
            >
              {BITRATES.map((kbps) => (
                <option key={kbps} value={String(kbps)}>
                  {kbps} kbps
                </option>
              ))}
            </select>
          </div>
        ) : (
          <div class="field">
            <label for={idOf('vbrQuality')}>VBR quality</label>
            <select
              id={idOf('vbrQuality')}
              value={value.vbrQuality}
              onChange={(event) => set('vbrQuality', event.currentTarget.value)}
            >
              {VBR_QUALITIES.map((quality) => (
                <option key={quality} value={String(quality)}>
                  {quality}
                  {quality === 0 ? ' (best, largest)' : quality === 9 ? ' (smallest)' : ''}
                </option>
              ))}
            </select>
          </div>
        )}
        <div class="field">
          <label for={idOf('sampleRateHz')}>Sample rate</label>
          <select
            id={idOf('sampleRateHz')}
            value={value.sampleRateHz}
            onChange={(event) => set('sampleRateHz', event.currentTarget.value)}
          >
            <option value="">Same as the video</option>
            {MP3_SAMPLE_RATES.map((hz) => (
              <option key={hz} value={String(hz)}>
                {(hz / 1000).toLocaleString('en')} kHz
              </option>
            ))}
          </select>
        </div>
        <label class="checkbox">
          <input
            type="checkbox"
            checked={value.mono}
            onChange={(event) => set('mono', event.currentTarget.checked)}
          />
          Mono
        </label>
      </div>
      <div class="field-row">
        {textField('startSeconds', 'Trim start (seconds)', SECONDS_INPUT)}
        {textField('endSeconds', 'Trim end (seconds)', SECONDS_INPUT)}
      </div>
      <div class="field-row">
        <div class="field">
          <label for={idOf('loudness')}>Loudness</label>
          <select
            id={idOf('loudness')}
            value={value.loudness}
            onChange={(event) =>
              set('loudness', event.currentTarget.value as Mp3Choice['loudness'])
            }
          >
            <option value="">As recorded</option>
            <option value="PODCAST">Podcast (−16 LUFS)</option>
            <option value="STREAMING">Streaming (−14 LUFS)</option>
            <option value="BROADCAST">Broadcast (−23 LUFS)</option>
          </select>
        </div>
        {textField('track', 'Audio track', {
          type: 'text',
          maxLength: 3,
          placeholder: 'First; or eng, 1…',
        })}
        <label class="checkbox">
          <input
            type="checkbox"
            checked={value.chapters}
            onChange={(event) => set('chapters', event.currentTarget.checked)}
          />
          Chapters
        </label>
      </div>
      <div class="field-row">
        {textField('title', 'Title', { ...TAG_INPUT, placeholder: "The video's name" })}
        {textField('artist', 'Artist', TAG_INPUT)}
      </div>
    </fieldset>
  );
}
