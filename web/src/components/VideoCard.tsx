import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { isFinalStatus } from '../../../lib/contracts/conversionStatus.js';
import {
  CancelConversionDocument,
  ConversionUpdatedDocument,
  ConvertVideoDocument,
  DeleteVideoDocument,
  type ConversionFieldsFragment,
  type VideoFieldsFragment,
} from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api, type ApiResult } from '../api/createApi.js';
import { describeError } from '../api/describeError.js';
import { sameOriginPath } from '../api/sameOriginPath.js';
import { mp3Name } from '../../../lib/contracts/filenameParameters.js';
import { formatBytes, formatDuration } from '../formatting.js';
import { DEFAULT_MP3_CHOICE, toMp3Options, type Mp3Choice } from '../mp3Choice.js';
import { Mp3OptionsFields } from './Mp3OptionsFields.js';

export type ListedVideo = VideoFieldsFragment & {
  latestConversion: ConversionFieldsFragment | null;
};

const STATUS_WORDS: Record<ConversionFieldsFragment['status'], string> = {
  QUEUED: 'Waiting for a converter',
  RUNNING: 'Converting',
  SUCCEEDED: 'MP3 ready',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

/** A failed player asks for new links at most this often (they are signed for 15 minutes). */
const LINK_RETRY_MS = 60_000;
/** How long a watch that failed waits before it starts again. */
const WATCH_RETRY_MS = 3_000;

/**
 * One video and its latest conversion, watched live until it ends: player, download link,
 * convert again, cancel, delete.
 */
export function VideoCard({
  api,
  video,
  onConversion,
  onDeleted,
  onStale,
}: {
  api: Api;
  video: ListedVideo;
  onConversion: (videoId: string, conversion: ConversionFieldsFragment) => void;
  onDeleted: (videoId: string) => void;
  /** What the card shows may be out of date (a watch failed, a link expired): reload it. */
  onStale: () => void;
}) {
  const conversion = video.latestConversion;
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [choosing, setChoosing] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const [choice, setChoice] = useState<Mp3Choice>(DEFAULT_MP3_CHOICE);
  const heading = useRef<HTMLHeadingElement>(null);

  // Watch the video's latest conversion while there is none yet (an upload that just ended:
  // its first event brings it) or it has not ended. The server answers with the state now,
  // so a watch resumed after a dropped socket shows the present; it ends the watch itself
  // when the conversion ends.
  // A watch that fails (the server refused it, say while a subgraph restarts) starts again
  // after a pause, and the list is reloaded meanwhile: a deleted video leaves it then.
  const watching = !conversion || !isFinalStatus(conversion.status);
  const [watchRound, setWatchRound] = useState(0);
  const [watchProblem, setWatchProblem] = useState<string>();
  useEffect(() => {
    if (!watching) return;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const unsubscribe = api.subscribe(
      ConversionUpdatedDocument,
      { videoId: video.id },
      (result) => {
        if (result.error) {
          setWatchProblem(describeApiError(result.error));
          onStale();
          retry = setTimeout(() => setWatchRound((round) => round + 1), WATCH_RETRY_MS);
        } else if (result.data) {
          setWatchProblem(undefined);
          onConversion(video.id, result.data.conversionUpdated);
        }
      },
    );
    return () => {
      clearTimeout(retry);
      unsubscribe();
    };
    // The callbacks are left out: they are the list's, the same for the card's life.
  }, [api, video.id, watching, watchRound]);

  // The player keeps its link while it plays: each reload signs new links, and a new `src`
  // would start the MP3 over. It takes the newest link for a new MP3, or after failing.
  const audio = conversion?.status === 'SUCCEEDED' ? conversion.audio : null;
  const newestLink = audio ? sameOriginPath(audio.downloadUrl) : undefined;
  const [player, setPlayer] = useState<{ audioId: string; src: string; since: number }>();
  const playerFailed = useRef(false);
  useEffect(() => {
    if (!audio || !newestLink) return;
    setPlayer((current) => {
      if (current?.audioId === audio.id && !playerFailed.current) return current;
      playerFailed.current = false;
      return { audioId: audio.id, src: newestLink, since: Date.now() };
    });
  }, [audio?.id, newestLink]);
  const playerError = () => {
    playerFailed.current = true;
    if (player && Date.now() - player.since > LINK_RETRY_MS) onStale();
  };

  // Keyboard users stay where they were: on "Yes, delete" once asked, on "Delete" if kept.
  const deleteButton = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const askedToDelete = useRef(false);
  useLayoutEffect(() => {
    if (confirmingDelete) confirmButton.current?.focus();
    else if (askedToDelete.current) deleteButton.current?.focus();
    askedToDelete.current = confirmingDelete;
  }, [confirmingDelete]);

  const act = async <T,>(
    run: () => Promise<ApiResult<T>>,
    then: (data: T) => void,
    options: { refocus: boolean } = { refocus: true },
  ) => {
    setBusy(true);
    setProblem(undefined);
    const result = await run();
    setBusy(false);
    if (result.data) then(result.data);
    else if (result.error) setProblem(describeApiError(result.error));
    // The button pressed may be gone (Cancel once cancelled, the options once converting).
    if (options.refocus || result.error) heading.current?.focus();
  };
  const cancel = () =>
    conversion &&
    act(
      () => api.request(CancelConversionDocument, { id: conversion.id }),
      (data) => onConversion(video.id, data.cancelConversion),
    );
  const convert = () =>
    act(
      () => api.request(ConvertVideoDocument, { videoId: video.id, mp3: toMp3Options(choice) }),
      (data) => {
        setChoosing(false);
        onConversion(video.id, data.convertVideo);
      },
    );
  const remove = () =>
    act(
      () => api.request(DeleteVideoDocument, { id: video.id }),
      // The card goes: the list moves focus to its own heading.
      () => onDeleted(video.id),
      { refocus: false },
    );

  // The name the server's Content-Disposition gives the download, which wins over `download`.
  const mp3 = mp3Name(video.filename);
  const headingId = `video-${video.id}`;
  const status = conversion?.status;
  return (
    <li class="video-card" aria-labelledby={headingId} data-audio-id={audio?.id}>
      <h3 id={headingId} ref={heading} tabIndex={-1}>
        {video.filename}
      </h3>
      <p class="hint">
        {formatBytes(video.bytes)}, uploaded {new Date(video.uploadedAt).toLocaleString()}
      </p>
      <p class="status" data-status={status ?? 'NONE'}>
        {/* Only the status is a live region: the percentage would be read out at every step. */}
        <span class={`badge ${status?.toLowerCase() ?? 'none'}`} aria-live="polite">
          {status ? STATUS_WORDS[status] : 'Starting'}
        </span>
        {status === 'RUNNING' && conversion?.progress !== null && (
          <span> {Math.floor((conversion?.progress ?? 0) * 100)}%</span>
        )}
        {conversion?.error && status !== 'SUCCEEDED' && (
          <span class="problem"> {describeError({ code: conversion.error.code })}</span>
        )}
      </p>
      {status === 'RUNNING' && (
        <progress
          aria-label={`Conversion progress of ${video.filename}`}
          max={1}
          value={conversion?.progress ?? 0}
        />
      )}
      {audio && newestLink && (
        <div class="result">
          <audio
            controls
            preload="metadata"
            src={player?.audioId === audio.id ? player.src : newestLink}
            aria-label={`MP3 of ${video.filename}`}
            onError={playerError}
          />
          <p>
            <a href={newestLink} download={mp3}>
              Download {mp3}
            </a>{' '}
            <span class="hint">
              {formatDuration(audio.durationSeconds)}, {audio.bitrateKbps} kbps,{' '}
              {formatBytes(audio.bytes)}
            </span>
          </p>
          {audio.loudness && (
            <p class="hint loudness">
              Loudness {audio.loudness.outputLufs} LUFS (source {audio.loudness.inputLufs}), true
              peak {audio.loudness.truePeakDb} dBTP, range {audio.loudness.rangeLu} LU,{' '}
              {audio.loudness.mode.startsWith('TWO_PASS') ? 'two passes' : 'one pass'}
            </p>
          )}
        </div>
      )}
      {(problem ?? watchProblem) && (
        <p class="problem" role="alert">
          {problem ?? watchProblem}
        </p>
      )}
      {choosing && (
        <form
          class="reconvert"
          aria-label={`Convert ${video.filename}`}
          onSubmit={(event) => {
            event.preventDefault();
            void convert();
          }}
        >
          <Mp3OptionsFields value={choice} onChange={setChoice} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Convert
            </button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setChoosing(false);
                heading.current?.focus();
              }}
            >
              Close options
            </button>
          </div>
        </form>
      )}
      <div class="actions">
        {conversion && watching && (
          <button type="button" class="secondary" disabled={busy} onClick={() => void cancel()}>
            Cancel conversion
          </button>
        )}
        {/* Also with no conversion at all: one that was never made can be asked for. */}
        {(!conversion || !watching) && !choosing && (
          <button type="button" class="secondary" onClick={() => setChoosing(true)}>
            {conversion ? 'Convert again' : 'Convert'}
          </button>
        )}
        {confirmingDelete ? (
          <>
            <button
              key="confirm-delete"
              ref={confirmButton}
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => void remove()}
            >
              Yes, delete {video.filename}
            </button>
            <button
              key="keep"
              type="button"
              class="secondary"
              onClick={() => setConfirmingDelete(false)}
            >
              Keep it
            </button>
          </>
        ) : (
          <button
            key="delete"
            ref={deleteButton}
            type="button"
            class="secondary"
            aria-label={`Delete ${video.filename}`}
            onClick={() => setConfirmingDelete(true)}
          >
            Delete
          </button>
        )}
      </div>
    </li>
  );
}
