import { describe, expect, it } from 'vitest';
import { parseMp3Options } from '../lib/contracts/mp3Options.js';
import { DEFAULT_MP3_CHOICE, toMp3Options } from '../web/src/mp3Choice.js';

describe('toMp3Options (web page)', () => {
  it('sends nothing for the defaults', () => {
    expect(toMp3Options(DEFAULT_MP3_CHOICE)).toEqual({});
  });

  it('sends constant bitrate or VBR quality, never both, and only fields that were filled in', () => {
    const options = toMp3Options({
      ...DEFAULT_MP3_CHOICE,
      bitrateKbps: '128',
      mono: true,
      sampleRateHz: '44100',
      startSeconds: '1.5',
      endSeconds: ' ',
      title: '  Holiday ',
    });
    expect(options).toEqual({
      bitrateKbps: 128,
      channels: 1,
      sampleRateHz: 44100,
      startSeconds: 1.5,
      title: 'Holiday',
    });
    expect(toMp3Options({ ...DEFAULT_MP3_CHOICE, mode: 'variable', vbrQuality: '0' })).toEqual({
      vbrQuality: 0,
    });
  });

  it('makes options the server accepts, checked by the server’s own parser', () => {
    const options = toMp3Options({
      ...DEFAULT_MP3_CHOICE,
      mode: 'variable',
      vbrQuality: '4',
      mono: true,
      sampleRateHz: '22050',
      startSeconds: '2',
      endSeconds: '9.5',
      artist: 'Someone',
    });
    expect(parseMp3Options(options)).toEqual(options);
  });
});
