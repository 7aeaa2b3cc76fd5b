import { ReelfluxError } from '../../ReelfluxError.js';
import { one, positiveInt, stem } from '../arguments.js';
import type { Command } from '../Command.js';
import { formatBytes } from '../createProgress.js';
import { describeConversion } from '../describeConversion.js';
import { EXIT } from '../exitCodes.js';

export const status: Command = {
  name: 'status',
  synopsis: '<conversion-id>',
  summary: "a conversion's state",
  async run({ client, args, print }) {
    const conversion = await client.conversion(one(args, 'status needs a conversion id'));
    print(describeConversion(conversion), conversion);
    return conversion.status === 'FAILED' ? EXIT.FAILED : EXIT.OK;
  },
};

export const download: Command = {
  name: 'download',
  synopsis: '<conversion-id> [-o out.mp3]',
  summary: "a finished conversion's MP3",
  async run({ client, values, args, progress, print }) {
    const conversion = await client.conversion(one(args, 'download needs a conversion id'));
    if (conversion.status !== 'SUCCEEDED' || !conversion.audio) {
      throw new ReelfluxError('NOT_FOUND', `conversion is ${conversion.status}, no MP3 yet`);
    }
    const output = values.output ?? `${stem(conversion.video.filename)}.mp3`;
    const result = await client.download(conversion.audio, output, {
      onProgress: (done, total) =>
        progress.update('download', total ? done / total : undefined, formatBytes(done)),
    });
    progress.note('download', `done, ${formatBytes(result.bytes)}`);
    print(output, { output, bytes: result.bytes });
    return EXIT.OK;
  },
};

export const ls: Command = {
  name: 'ls',
  synopsis: '[--limit N]',
  summary: 'your videos, newest first, with their latest conversion',
  async run({ client, values, print }) {
    const page = await client.videos(positiveInt(values.limit ?? '20', 'limit'));
    const videos = page.edges.map((edge) => edge.node);
    print(
      videos
        .map(
          (v) =>
            `${v.id}  ${(v.latestConversion?.status ?? '-').padEnd(9)}  ${formatBytes(v.bytes).padStart(10)}  ${v.filename}`,
        )
        .join('\n') || '(no videos)',
      videos,
    );
    return EXIT.OK;
  },
};

export const history: Command = {
  name: 'history',
  synopsis: '<video-id> [--limit N]',
  summary: "a video's conversions, newest first",
  async run({ client, values, args, print }) {
    const page = await client.conversions(
      one(args, 'history needs a video id'),
      positiveInt(values.limit ?? '20', 'limit'),
    );
    const conversions = page.edges.map((edge) => edge.node);
    print(
      conversions.map((c) => describeConversion(c)).join('\n') || '(no conversions)',
      conversions,
    );
    return EXIT.OK;
  },
};
