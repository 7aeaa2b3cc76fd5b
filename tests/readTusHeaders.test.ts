import { describe, expect, it } from 'vitest';
import {
  TusRefusal,
  parseUploadMetadata,
  readTusCreation,
  readTusPatch,
} from '../subgraphs/media/readTusHeaders.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const codeOf = (read: () => unknown) => {
  try {
    read();
  } catch (error) {
    return error instanceof TusRefusal
      ? error.code
      : (error as { extensions?: { code?: string } }).extensions?.code;
  }
  return 'none';
};

describe('tus request headers', () => {
  it('reads Upload-Metadata pairs, a value being optional', () => {
    expect([...parseUploadMetadata(`filename ${b64('a b.mp4')},flag`)]).toEqual([
      ['filename', 'a b.mp4'],
      ['flag', ''],
    ]);
    expect(codeOf(() => parseUploadMetadata('filename %%'))).toBe('BAD_REQUEST');
    expect(codeOf(() => parseUploadMetadata(`a ${b64('1')},a ${b64('2')}`))).toBe('BAD_REQUEST');
  });

  it('takes the MP3 options as JSON in metadata `mp3`, checked as uploadVideo checks them', () => {
    const creation = readTusCreation({
      'upload-length': '100',
      'upload-metadata': `filename ${b64('x.mov')},mp3 ${b64('{"bitrateKbps":128}')}`,
    });
    expect(creation).toMatchObject({ length: 100, filename: 'x.mov', mp3: { bitrateKbps: 128 } });
    const bad = { 'upload-length': '1', 'upload-metadata': `mp3 ${b64('{"bitrateKbps":1}')}` };
    expect(codeOf(() => readTusCreation(bad))).toBe('BAD_USER_INPUT');
    expect(
      codeOf(() => readTusCreation({ 'upload-length': '1', 'upload-metadata': `mp3 ${b64('{')}` })),
    ).toBe('BAD_REQUEST');
  });

  it('requires Upload-Length and refuses a deferred one', () => {
    expect(codeOf(() => readTusCreation({}))).toBe('BAD_REQUEST');
    expect(codeOf(() => readTusCreation({ 'upload-defer-length': '1' }))).toBe('BAD_REQUEST');
    expect(codeOf(() => readTusCreation({ 'upload-length': '-1' }))).toBe('BAD_REQUEST');
    expect(codeOf(() => readTusCreation({ 'upload-length': '1e3' }))).toBe('BAD_REQUEST');
  });

  it('reads a PATCH: its content type, offset and checksum', () => {
    const type = { 'content-type': 'application/offset+octet-stream' };
    expect(readTusPatch({ ...type, 'upload-offset': '5', 'content-length': '10' })).toEqual({
      offset: 5,
      bytes: 10,
      checksum: undefined,
    });
    expect(codeOf(() => readTusPatch({ 'upload-offset': '0' }))).toBe('UNSUPPORTED_CONTENT_TYPE');
    expect(codeOf(() => readTusPatch(type))).toBe('BAD_REQUEST');
    expect(
      codeOf(() =>
        readTusPatch({ ...type, 'upload-offset': '0', 'upload-checksum': 'crc32 AAAA' }),
      ),
    ).toBe('BAD_REQUEST');
    expect(readTusPatch({ ...type, 'upload-checksum': 'sha1 AAAA' }, 0).checksum).toEqual({
      algorithm: 'sha1',
      digest: 'AAAA',
    });
  });
});
