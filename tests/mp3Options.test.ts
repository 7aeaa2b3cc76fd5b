import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseMp3Options } from '../lib/contracts/mp3Options.js';
import {
  InvalidMessageError,
  parseUploadEvent,
  parseVideoUploaded,
} from '../lib/contracts/messages.js';

const fieldOf = (input: unknown) => {
  try {
    parseMp3Options(input);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    return error.extensions.field;
  }
};

describe('Mp3Options', () => {
  it('accepts every documented option and keeps only what was set', () => {
    const all = {
      bitrateKbps: 320,
      sampleRateHz: 44100,
      channels: 1,
      startSeconds: 1.5,
      endSeconds: 9,
      title: 'Tïtle',
      artist: 'Me',
    };
    expect(parseMp3Options(all)).toEqual(all);
    expect(parseMp3Options({ vbrQuality: 0, bitrateKbps: null })).toEqual({ vbrQuality: 0 });
    expect(parseMp3Options(undefined)).toEqual({});
  });

  it.each([
    [{ bitrateKbps: 31 }, 'mp3.bitrateKbps'],
    [{ bitrateKbps: 321 }, 'mp3.bitrateKbps'],
    [{ bitrateKbps: 128.5 }, 'mp3.bitrateKbps'],
    [{ vbrQuality: 10 }, 'mp3.vbrQuality'],
    [{ bitrateKbps: 128, vbrQuality: 2 }, 'mp3.vbrQuality'],
    [{ sampleRateHz: 16000 }, 'mp3.sampleRateHz'],
    [{ channels: 6 }, 'mp3.channels'],
    [{ startSeconds: -1 }, 'mp3.startSeconds'],
    [{ startSeconds: 5, endSeconds: 5 }, 'mp3.endSeconds'],
    [{ endSeconds: Number.NaN }, 'mp3.endSeconds'],
    [{ title: 'a\nb' }, 'mp3.title'],
    [{ artist: 'x'.repeat(201) }, 'mp3.artist'],
    [{ speed: 2 }, 'mp3.speed'],
    ['fast', 'mp3.mp3'],
  ])('refuses %o naming %s', (input, field) => {
    expect(fieldOf(input)).toBe(field);
  });
});

describe('message contracts', () => {
  const valid = {
    type: 'video.uploaded',
    version: 1,
    videoId: 'a'.repeat(24),
    ownerId: 'b'.repeat(24),
    filename: 'x.mp4',
    bytes: 10,
    mp3: { channels: 1 },
  };
  it('parses a valid video.uploaded', () => {
    expect(parseVideoUploaded(valid)).toEqual(valid);
  });
  it.each([
    ['not an object', 'nope'],
    ['another type', { ...valid, type: 'video.deleted' }],
    ['a future version', { ...valid, version: 2 }],
    ['a bad id', { ...valid, videoId: '../../x' }],
    ['negative bytes', { ...valid, bytes: -1 }],
  ])('refuses %s', (_what, raw) => {
    expect(() => parseVideoUploaded(raw)).toThrow(InvalidMessageError);
  });
  it('refuses invalid options inside a message', () => {
    expect(() => parseVideoUploaded({ ...valid, mp3: { channels: 9 } })).toThrow(/mp3.channels/);
  });
  it('reads either event of the upload queue, and nothing else from it', () => {
    const started = {
      type: 'video.uploading',
      version: 1,
      videoId: valid.videoId,
      ownerId: valid.ownerId,
      filename: valid.filename,
      mp3: valid.mp3,
    };
    expect(parseUploadEvent(started)).toEqual(started);
    expect(parseUploadEvent(valid)).toEqual(valid);
    expect(() => parseUploadEvent({ ...started, videoId: 'x' })).toThrow(InvalidMessageError);
    expect(() => parseUploadEvent({ ...valid, type: 'video.deleted' })).toThrow(
      InvalidMessageError,
    );
  });
});
