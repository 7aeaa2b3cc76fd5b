import { useEffect, useRef, useState } from 'preact/hooks';
import { UploadVideoDocument, type VideoFieldsFragment } from '../../../sdk/generated/graphql.js';
import { problemOf, type Api } from '../api/createApi.js';
import { createProgressFetch } from '../api/createProgressFetch.js';
import { describeError } from '../api/describeError.js';
import { formatBytes } from '../formatting.js';
import { DEFAULT_MP3_CHOICE, toMp3Options, type Mp3Choice } from '../mp3Choice.js';
import { Mp3OptionsFields } from './Mp3OptionsFields.js';

interface Uploading {
  sent: number;
  total: number;
  cancel: () => void;
}

/** Choose a video (picker or drop anywhere on the page), set the MP3 options, upload. */
export function UploadForm({
  api,
  onUploaded,
}: {
  api: Api;
  onUploaded: (video: VideoFieldsFragment) => void;
}) {
  const [file, setFile] = useState<File>();
  const [choice, setChoice] = useState<Mp3Choice>(DEFAULT_MP3_CHOICE);
  const [uploading, setUploading] = useState<Uploading>();
  const [message, setMessage] = useState<{ text: string; problem: boolean }>();
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);

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

  const upload = () => {
    if (!file) return;
    setMessage(undefined);
    const progressFetch = createProgressFetch((sent, total) =>
      setUploading((current) => current && { ...current, sent, total }),
    );
    const subscription = api.client
      .mutation(UploadVideoDocument, { file, mp3: toMp3Options(choice) }, { fetch: progressFetch })
      .subscribe((result) => {
        setUploading(undefined);
        if (result.data?.uploadVideo) {
          onUploaded(result.data.uploadVideo);
          setFile(undefined);
          if (picker.current) picker.current.value = '';
          setMessage({ text: `${result.data.uploadVideo.filename} is uploaded.`, problem: false });
        } else if (result.error) {
          setMessage({ text: describeError(problemOf(result.error)), problem: true });
        }
      });
    setUploading({
      sent: 0,
      total: file.size,
      // Ending urql's operation aborts its request, so the server sees the upload cut off.
      cancel: () => {
        subscription.unsubscribe();
        setUploading(undefined);
        setMessage({ text: 'The upload was cancelled.', problem: false });
      },
    });
  };

  const percent = uploading ? Math.floor((uploading.sent / Math.max(uploading.total, 1)) * 100) : 0;
  return (
    <form
      class={`panel upload-form${dragging ? ' dragging' : ''}`}
      aria-labelledby="upload-heading"
      onSubmit={(event) => {
        event.preventDefault();
        upload();
      }}
    >
      <h2 id="upload-heading">Convert a video</h2>
      <label for="video">Video</label>
      <input
        id="video"
        ref={picker}
        type="file"
        accept="video/*,audio/*,.mkv,.flv,.ts,.m2ts"
        required
        disabled={uploading !== undefined}
        onChange={(event) => {
          setFile(event.currentTarget.files?.[0]);
          setMessage(undefined);
        }}
      />
      <p class="hint">
        {file ? `${file.name}, ${formatBytes(file.size)}` : 'or drop a file anywhere on the page.'}
      </p>
      <Mp3OptionsFields value={choice} onChange={setChoice} />
      {uploading ? (
        <div class="upload-progress">
          <progress aria-label="Upload progress" max={100} value={percent} />
          <p aria-live="polite">
            Uploading: {formatBytes(uploading.sent)} of {formatBytes(uploading.total)} ({percent}%)
          </p>
          <button type="button" class="secondary" onClick={uploading.cancel}>
            Cancel upload
          </button>
        </div>
      ) : (
        <div class="actions">
          <button type="submit" disabled={!file}>
            Upload and convert
          </button>
        </div>
      )}
      {message && (
        <p
          class={message.problem ? 'problem' : 'notice'}
          role={message.problem ? 'alert' : 'status'}
        >
          {message.text}
        </p>
      )}
    </form>
  );
}
