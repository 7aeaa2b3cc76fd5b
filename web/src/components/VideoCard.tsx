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
import { problemOf, type Api } from '../api/createApi.js';
import { describeError } from '../api/describeError.js';
import { formatBytes, formatDuration, mp3FileName, sameOriginPath } from '../formatting.js';
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

/**
 * One video and its latest conversion, watched live until it ends: player, download link,
 * convert again, cancel, delete.
 */
export function VideoCard({
  api,
  video,
  onConversion,
  onDeleted,
  onLinkExpired,
}: {
  api: Api;
  video: ListedVideo;
  onConversion: (videoId: string, conversion: ConversionFieldsFragment) => void;
  onDeleted: (videoId: string) => void;
  /** The player could not load the MP3: its signed link may have expired. */
  onLinkExpired: () => void;
}) {
  const conversion = video.latestConversion;
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [reconverting, setReconverting] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const [choice, setChoice] = useState<Mp3Choice>(DEFAULT_MP3_CHOICE);
  const askedForFreshLink = useRef(false);
  // Keyboard users stay where they were: on "Yes, delete" once asked, on "Delete" if kept.
  const deleteButton = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const askedToDelete = useRef(false);
  useLayoutEffect(() => {
    if (confirmingDelete) confirmButton.current?.focus();
    else if (askedToDelete.current) deleteButton.current?.focus();
    askedToDelete.current = confirmingDelete;
  }, [confirmingDelete]);

  // Watch while there is no conversion yet (an upload that just ended) or it has not ended.
  // The server answers each subscription with the state now, so one that resumes after a
  // dropped socket shows the present, not the past.
  const watchedId = conversion && !isFinalStatus(conversion.status) ? conversion.id : undefined;
  const watching = !conversion || watchedId !== undefined;
  useEffect(() => {
    if (!watching) return;
    const variables = watchedId ? { id: watchedId } : { videoId: video.id };
    const subscription = api.client
      .subscription(ConversionUpdatedDocument, variables)
      .subscribe((result) => {
        if (result.data) onConversion(video.id, result.data.conversionUpdated);
        else if (result.error) setProblem(describeError(problemOf(result.error)));
      });
    return () => subscription.unsubscribe();
    // onConversion is left out: it is the list's updater, the same for the card's life.
  }, [api, video.id, watching, watchedId]);

  const act = async <T,>(
    run: () => Promise<{ data?: T; error?: Parameters<typeof problemOf>[0] }>,
    then: (data: T) => void,
  ) => {
    setBusy(true);
    setProblem(undefined);
    const result = await run();
    setBusy(false);
    if (result.data) then(result.data);
    else if (result.error) setProblem(describeError(problemOf(result.error)));
  };

  const cancel = () =>
    conversion &&
    act(
      () => api.client.mutation(CancelConversionDocument, { id: conversion.id }).toPromise(),
      (data) => onConversion(video.id, data.cancelConversion),
    );
  const convertAgain = () =>
    act(
      () =>
        api.client
          .mutation(ConvertVideoDocument, { videoId: video.id, mp3: toMp3Options(choice) })
          .toPromise(),
      (data) => {
        setReconverting(false);
        onConversion(video.id, data.convertVideo);
      },
    );
  const remove = () =>
    act(
      () => api.client.mutation(DeleteVideoDocument, { id: video.id }).toPromise(),
      () => onDeleted(video.id),
    );

  const audio = conversion?.status === 'SUCCEEDED' ? conversion.audio : null;
  const mp3Name = mp3FileName(video.filename);
  const headingId = `video-${video.id}`;
  return (
    <li class="video-card" aria-labelledby={headingId}>
      <h3 id={headingId}>{video.filename}</h3>
      <p class="hint">
        {formatBytes(video.bytes)}, uploaded {new Date(video.uploadedAt).toLocaleString()}
      </p>
      <p class="status" aria-live="polite" data-status={conversion?.status ?? 'NONE'}>
        <span class={`badge ${conversion?.status.toLowerCase() ?? 'none'}`}>
          {conversion ? STATUS_WORDS[conversion.status] : 'Starting'}
        </span>
        {conversion?.status === 'RUNNING' && conversion.progress !== null && (
          <span> {Math.floor(conversion.progress * 100)}%</span>
        )}
        {conversion?.error && conversion.status !== 'SUCCEEDED' && (
          <span class="problem"> {describeError({ code: conversion.error.code })}</span>
        )}
      </p>
      {conversion?.status === 'RUNNING' && (
        <progress
          aria-label={`Conversion progress of ${video.filename}`}
          max={1}
          value={conversion.progress ?? 0}
        />
      )}
      {audio && (
        <div class="result">
          <audio
            controls
            preload="metadata"
            src={sameOriginPath(audio.downloadUrl)}
            aria-label={`MP3 of ${video.filename}`}
            onError={() => {
              if (askedForFreshLink.current) return;
              askedForFreshLink.current = true;
              onLinkExpired();
            }}
          />
          <p>
            <a href={sameOriginPath(audio.downloadUrl)} download={mp3Name}>
              Download {mp3Name}
            </a>{' '}
            <span class="hint">
              {formatDuration(audio.durationSeconds)}, {audio.bitrateKbps} kbps,{' '}
              {formatBytes(audio.bytes)}
            </span>
          </p>
        </div>
      )}
      {problem && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
      {reconverting && (
        <form
          class="reconvert"
          aria-label={`Convert ${video.filename} again`}
          onSubmit={(event) => {
            event.preventDefault();
            void convertAgain();
          }}
        >
          <Mp3OptionsFields value={choice} onChange={setChoice} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Convert
            </button>
            <button type="button" class="secondary" onClick={() => setReconverting(false)}>
              Close options
            </button>
          </div>
        </form>
      )}
      <div class="actions">
        {watchedId && (
          <button type="button" class="secondary" disabled={busy} onClick={() => void cancel()}>
            Cancel conversion
          </button>
        )}
        {!watching && !reconverting && (
          <button type="button" class="secondary" onClick={() => setReconverting(true)}>
            Convert again
          </button>
        )}
        {confirmingDelete ? (
          <>
            <button
              ref={confirmButton}
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => void remove()}
            >
              Yes, delete {video.filename}
            </button>
            <button type="button" class="secondary" onClick={() => setConfirmingDelete(false)}>
              Keep it
            </button>
          </>
        ) : (
          <button
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
