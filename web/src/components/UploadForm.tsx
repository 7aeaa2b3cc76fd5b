import { useEffect, useRef, useState } from 'preact/hooks';
import { UploadVideoDocument, type VideoFieldsFragment } from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api } from '../api/createApi.js';
import { formatBytes } from '../formatting.js';
import { DEFAULT_MP3_CHOICE, toMp3Options, type Mp3Choice } from '../mp3Choice.js';
import { Mp3OptionsFields } from './Mp3OptionsFields.js';

interface Uploading {
  sent: number;
  total: number;
}

/** Screen readers hear the upload's progress in steps of this many percent, not every event. */
const ANNOUNCE_STEP = 25;

/** Choose a video (picker or drop anywhere on the page), set the MP3 options, upload. */
export function UploadForm({
  api,
  onUploaded,
  onCancelled,
}: {
  api: Api;
  onUploaded: (video: VideoFieldsFragment) => void;
  /** An upload was cancelled; the server may have had every byte already and kept it. */
  onCancelled: () => void;
}) {
  const [file, setFile] = useState<File>();
  const [choice, setChoice] = useState<Mp3Choice>(DEFAULT_MP3_CHOICE);
  const [uploading, setUploading] = useState<Uploading>();
  const [message, setMessage] = useState<{ text: string; problem: boolean }>();
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const noticeLine = useRef<HTMLParagraphElement>(null);
  const progressLine = useRef<HTMLParagraphElement>(null);
  const problemLine = useRef<HTMLParagraphElement>(null);
  const running = useRef<AbortController | undefined>(undefined);

  // Where a keyboard user starts once logged in.
  useEffect(() => heading.current?.focus(), []);
  // Logging out (this form goes away) mid-upload ends the upload too.
  useEffect(() => () => running.current?.abort(), []);

  useEffect(() => {
    const over = (event: DragEvent) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      setDragging(true);
    };
    const leave = (event: DragEvent) => {
      if (event.relatedTarget === null) setDragging(false);
    };
    const drop = (event: DragEvent) => {
      const dropped = event.dataTransfer?.files[0];
      if (!dropped) return;
      event.preventDefault();
      setDragging(false);
      if (running.current) return;
      // The picker shows the dropped file as if chosen there.
      if (picker.current && event.dataTransfer) picker.current.files = event.dataTransfer.files;
      setFile(dropped);
      setMessage(undefined);
    };
    document.addEventListener('dragover', over);
    document.addEventListener('dragleave', leave);
    document.addEventListener('drop', drop);
    return () => {
      document.removeEventListener('dragover', over);
      document.removeEventListener('dragleave', leave);
      document.removeEventListener('drop', drop);
    };
  }, []);

  const finish = (next: { text: string; problem: boolean }) => {
    running.current = undefined;
    setUploading(undefined);
    setMessage(next);
    // The progress bar and its Cancel button are gone: focus goes to what happened.
    requestAnimationFrame(() => (next.problem ? problemLine : noticeLine).current?.focus());
  };

  const upload = () => {
    if (!file || running.current) return;
    setMessage(undefined);
    const controller = new AbortController();
    running.current = controller;
    void api
      .upload(UploadVideoDocument, { mp3: toMp3Options(choice) }, file, {
        onProgress: (sent, total) =>
          setUploading((current) => current && { sent, total: total ?? file.size }),
        signal: controller.signal,
      })
      .then((result) => {
        // Cancelled (or logged out): `cancel` has said so already.
        if (controller.signal.aborted) return;
        if (result.data) {
          onUploaded(result.data.uploadVideo);
          setFile(undefined);
          if (picker.current) picker.current.value = '';
          finish({ text: `${result.data.uploadVideo.filename} is uploaded.`, problem: false });
        } else {
          finish({ text: describeApiError(result.error), problem: true });
        }
      });
    setUploading({ sent: 0, total: file.size });
    requestAnimationFrame(() => cancelButton.current?.focus());
  };
  // Aborting the request makes the server see the upload cut off and keep nothing of it, unless the bytes had all left already (the network's buffers hold
  // a few megabytes): then the video is stored, and the list shows it.
  const cancel = () => {
    running.current?.abort();
    finish({ text: 'The upload was cancelled.', problem: false });
    onCancelled();
  };

  const percent = uploading ? Math.floor((uploading.sent / Math.max(uploading.total, 1)) * 100) : 0;
  const sentAll =
    uploading !== undefined && uploading.total > 0 && uploading.sent >= uploading.total;
  // "Cancel upload" goes once every byte is sent: focus moves to the line saying so.
  useEffect(() => {
    if (sentAll && document.activeElement === document.body) progressLine.current?.focus();
  }, [sentAll]);
  return (
    <form
      class={`panel upload-form${dragging ? ' dragging' : ''}`}
      aria-labelledby="upload-heading"
      onSubmit={(event) => {
        event.preventDefault();
        upload();
      }}
    >
      <h2 id="upload-heading" ref={heading} tabIndex={-1}>
        Convert a video
      </h2>
      <label for="video">Video</label>
      <input
        id="video"
        ref={picker}
        type="file"
        accept="video/*,audio/*,.mkv,.flv,.ts,.m2ts"
        aria-describedby="video-hint"
        disabled={uploading !== undefined}
        onChange={(event) => {
          setFile(event.currentTarget.files?.[0]);
          setMessage(undefined);
        }}
      />
      <p id="video-hint" class="hint">
        {file ? `${file.name}, ${formatBytes(file.size)}` : 'Or drop a file anywhere on the page.'}
      </p>
      <Mp3OptionsFields value={choice} onChange={setChoice} />
      {/* Keyed apart: unkeyed, Preact would turn the Cancel button into the submit button
          before the click's default action, and that click would start the upload again. */}
      {uploading ? (
        <div key="uploading" class="upload-progress">
          <progress aria-label="Upload progress" max={100} value={percent} />
          <p ref={progressLine} tabIndex={-1}>
            {sentAll
              ? 'Sent; the server is finishing the upload…'
              : `Uploading: ${formatBytes(uploading.sent)} of ${formatBytes(uploading.total)} (${percent}%)`}
          </p>
          <p class="visually-hidden" aria-live="polite">
            {`Uploading, ${Math.floor(percent / ANNOUNCE_STEP) * ANNOUNCE_STEP}%`}
          </p>
          {!sentAll && (
            <button ref={cancelButton} type="button" class="secondary" onClick={cancel}>
              Cancel upload
            </button>
          )}
        </div>
      ) : (
        <div key="ready" class="actions">
          <button type="submit" disabled={!file}>
            Upload and convert
          </button>
        </div>
      )}
      {/* Both always there, so screen readers hear what is put in them. */}
      <p ref={noticeLine} tabIndex={-1} class="notice" role="status">
        {message && !message.problem ? message.text : ''}
      </p>
      <p ref={problemLine} tabIndex={-1} class="problem" role="alert">
        {message?.problem ? message.text : ''}
      </p>
    </form>
  );
}
