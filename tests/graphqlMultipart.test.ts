import { describe, expect, it } from 'vitest';
import { graphqlMultipart } from '../lib/contracts/graphqlMultipart.js';

describe('graphqlMultipart: the framing the router and the SDK send an upload in', () => {
  const framing = graphqlMultipart({
    operation: {
      query: 'mutation ($file: Upload!) { uploadVideo(file: $file) { id } }',
      operationName: undefined,
      variables: { mp3: { bitrateKbps: 128 }, file: 'ignored' },
    },
    fileVariable: 'file',
    filename: 'été "1".mp4',
    fileType: 'video/mp4\r\nX-Injected: 1',
  });
  const boundary = /boundary=(.+)$/.exec(framing.contentType)?.[1] ?? '';
  const parts = `${framing.head}BYTES${framing.tail}`.split(`--${boundary}`);

  it('writes operations, map and the file part, in that order, closed by the boundary', () => {
    expect(framing.contentType).toMatch(
      /^multipart\/form-data; boundary=----reelflux[0-9a-f]{32}$/,
    );
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('');
    expect(parts[4]).toBe('--\r\n');
    const [operations, map] = [parts[1], parts[2]].map(
      (part) => JSON.parse(part?.split('\r\n\r\n')[1]?.trim() ?? '') as unknown,
    );
    expect(operations).toEqual({
      query: 'mutation ($file: Upload!) { uploadVideo(file: $file) { id } }',
      variables: { mp3: { bitrateKbps: 128 }, file: null },
    });
    expect(map).toEqual({ 0: ['variables.file'] });
    expect(parts[3]).toBe(
      '\r\nContent-Disposition: form-data; name="0"; ' +
        `filename="_t_ _1_.mp4"; filename*=UTF-8''%C3%A9t%C3%A9%20%221%22.mp4\r\n` +
        'Content-Type: video/mp4X-Injected: 1\r\n\r\nBYTES\r\n',
    );
  });

  it('uses a new boundary each time, and octet-stream when the type is empty', () => {
    const other = graphqlMultipart({
      operation: { query: '{ me { id } }', variables: {} },
      fileVariable: 'file',
      filename: 'a',
      fileType: '',
    });
    expect(other.contentType).not.toBe(framing.contentType);
    expect(other.head).toContain('Content-Type: application/octet-stream\r\n\r\n');
  });
});
