export type ProgressMode = 'bar' | 'lines' | 'off';

export interface Progress {
  /** `fraction` from 0 to 1, or undefined when the total is unknown. */
  update(stage: string, fraction: number | undefined, detail?: string): void;
  /** A line of its own: a stage done, a state change. */
  note(stage: string, text: string): void;
}

const WIDTH = 28;

/**
 * Progress on stderr: a redrawn bar on a terminal; on a pipe or a file, one plain line per 10 %
 * step, so logs stay readable; nothing with `--json`.
 */
export function createProgress(mode: ProgressMode, out: NodeJS.WritableStream): Progress {
  const lastStep = new Map<string, number>();
  let lastDraw = { stage: '', percent: -1, at: 0 };
  return {
    update(stage, fraction, detail = '') {
      if (mode === 'off') return;
      const percent = fraction === undefined ? undefined : Math.floor(fraction * 100);
      const shown = percent === undefined ? '' : `${String(percent).padStart(3)}%`;
      if (mode === 'bar') {
        // Chunks arrive every few kilobytes: redraw on a new percent or ten times a second.
        const now = Date.now();
        if (
          lastDraw.stage === stage &&
          lastDraw.percent === (percent ?? -1) &&
          now - lastDraw.at < 100
        )
          return;
        lastDraw = { stage, percent: percent ?? -1, at: now };
        const filled = Math.round(((percent ?? 0) / 100) * WIDTH);
        const bar = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`;
        out.write(`\r\x1b[2K${stage.padEnd(9)} ${bar} ${shown} ${detail}`);
        return;
      }
      const step = percent === undefined ? 0 : Math.floor(percent / 10);
      if (lastStep.get(stage) === step) return;
      lastStep.set(stage, step);
      out.write(`${`${stage} ${shown.trim()} ${detail}`.replace(/ +/g, ' ').trim()}\n`);
    },
    note(stage, text) {
      if (mode === 'off') return;
      out.write(
        `${mode === 'bar' ? '\r\x1b[2K' : ''}${stage.padEnd(mode === 'bar' ? 9 : 0)} ${text}\n`,
      );
    },
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
