import { existsSync } from 'node:fs';
import { mp3Options, one, UsageError } from '../arguments.js';
import type { Command } from '../Command.js';
import { formatBytes } from '../createProgress.js';
import { EXIT } from '../exitCodes.js';
import {
  findPendingUpload,
  forgetPendingUpload,
  rememberPendingUpload,
  uploadFingerprint,
} from '../pendingUploads.js';

export const convert: Command = {
  name: 'convert',
  synopsis: `<video> [-o out.mp3] [--bitrate N | --vbr Q] [--mono] [--sample-rate HZ]
[--start S] [--end S] [--title T] [--artist A] [--resume]
[--loudness podcast|streaming|broadcast|LUFS [--true-peak DB]] [--track eng|N] [--no-chapters]`,
  summary:
    'upload (resumable), convert and download in one go (Ctrl-C cancels; --resume goes on with an upload a stopped run left)',
  async run({ client, url, values, args, progress, print }) {
    const path = one(args, 'convert needs a video file');
    if (!existsSync(path)) throw new UsageError(`no such file: ${path}`);
    const fingerprint = await uploadFingerprint(path, url);
    const resumeUrl = values.resume ? await findPendingUpload(fingerprint) : undefined;
    if (values.resume) {
      progress.note(
        'upload',
        resumeUrl ? 'resuming the unfinished upload' : 'nothing to resume; starting',
      );
    }
    let uploaded = false;
    const controller = new AbortController();
    let interrupts = 0;
    const onInterrupt = () => {
      interrupts += 1;
      // A second Ctrl-C does not wait for the cancel to reach the server.
      if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
      progress.note('convert', 'cancelling…');
      controller.abort();
    };
    process.on('SIGINT', onInterrupt);
    try {
      const result = await client.convertFile(
        path,
        {
          mp3: mp3Options(values),
          ...(values.output ? { output: values.output } : {}),
          ...(resumeUrl ? { resumeUrl } : {}),
          // Kept until the upload ends, for `--resume` after this run is killed.
          onCreated: (uploadUrl) =>
            rememberPendingUpload(fingerprint, { url: uploadUrl, path, server: url }),
        },
        {
          signal: controller.signal,
          onFaststart: () =>
            progress.note('upload', 'index (moov) moved first, to convert while uploading'),
          onUploadProgress: (done, total) =>
            progress.update(
              'upload',
              total ? done / total : undefined,
              `${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''}`,
            ),
          onUpdate: (conversion) => {
            if (!uploaded) {
              uploaded = true;
              void forgetPendingUpload(fingerprint).catch(() => undefined);
            }
            if (conversion.status === 'RUNNING') {
              progress.update('convert', conversion.progress ?? 0, 'running');
            } else progress.note('convert', conversion.status.toLowerCase());
          },
          onDownloadProgress: (done, total) =>
            progress.update('download', total ? done / total : undefined, formatBytes(done)),
        },
      );
      const { audio } = result.conversion;
      progress.note(
        'done',
        `${result.output} (${formatBytes(audio?.bytes ?? 0)}, ${audio?.durationSeconds.toFixed(1)} s, ${audio?.bitrateKbps} kbps)`,
      );
      if (audio?.loudness) {
        const l = audio.loudness;
        progress.note(
          'loudness',
          `${l.inputLufs} → ${l.outputLufs} LUFS, true peak ${l.truePeakDb} dBTP, range ${l.rangeLu} LU (${l.mode.toLowerCase().replaceAll('_', ' ')})`,
        );
      }
      print(result.output, {
        output: result.output,
        videoId: result.video.id,
        conversionId: result.conversion.id,
        status: result.conversion.status,
        audio,
      });
      return EXIT.OK;
    } catch (error) {
      if (controller.signal.aborted) {
        progress.note('convert', 'cancelled');
        return EXIT.INTERRUPTED;
      }
      throw error;
    } finally {
      process.off('SIGINT', onInterrupt);
    }
  },
};
