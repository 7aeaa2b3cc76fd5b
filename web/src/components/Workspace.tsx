import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  VideosDocument,
  type ConversionFieldsFragment,
  type VideoFieldsFragment,
} from '../../../sdk/generated/graphql.js';
import { describeApiError, type Api } from '../api/createApi.js';
import { UploadForm } from './UploadForm.js';
import { VideoCard, type ListedVideo } from './VideoCard.js';
import { NotificationSettings } from './NotificationSettings.js';

const PAGE_SIZE = 10;
/** The API's largest page: a reload asks for everything shown in one go, up to this. */
const MAX_PAGE_SIZE = 100;
/** How long after a cancelled upload the list is reloaded. */
const CANCEL_SETTLE_MS = 3_000;
/** Shorter than the download links' life (15 minutes by default), so shown links still work. */
const REFRESH_MS = 10 * 60_000;

/** The logged-in page: the upload form, "Your videos", newest first, and "Notifications". */
export function Workspace({ api }: { api: Api }) {
  const [videos, setVideos] = useState<ListedVideo[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<string>();
  const shown = useRef(0);
  shown.current = videos.length;
  // Each change to the list bumps this; an answer to a request made before it is stale (it
  // would drop a video uploaded meanwhile, or mix two pages), and is ignored.
  const generation = useRef(0);
  const heading = useRef<HTMLHeadingElement>(null);

  const load = useCallback(
    async (after: string | null) => {
      const asked = ++generation.current;
      const first = after ? PAGE_SIZE : Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, shown.current));
      setLoading(true);
      const result = await api.request(VideosDocument, { first, after });
      if (asked !== generation.current) return;
      setLoading(false);
      if (result.error) {
        setProblem(describeApiError(result.error));
        return;
      }
      if (!result.data) return;
      setProblem(undefined);
      const { edges, pageInfo } = result.data.videos;
      const page = edges.map((edge) => edge.node);
      setVideos((current) =>
        after ? [...current, ...page.filter((v) => !current.some((c) => c.id === v.id))] : page,
      );
      setNext(pageInfo.hasNextPage ? pageInfo.endCursor : null);
    },
    [api],
  );

  // The first page now, again after the WebSocket comes back (what changed meanwhile), and
  // every few minutes (fresh download links).
  useEffect(() => {
    void load(null);
    const stopListening = api.onReconnect(() => void load(null));
    const timer = setInterval(() => void load(null), REFRESH_MS);
    return () => {
      stopListening();
      clearInterval(timer);
    };
  }, [api, load]);

  const onUploaded = useCallback((video: VideoFieldsFragment) => {
    generation.current++;
    setLoading(false);
    setVideos((current) => [
      { ...video, latestConversion: null },
      ...current.filter((v) => v.id !== video.id),
    ]);
  }, []);
  const onConversion = useCallback((videoId: string, conversion: ConversionFieldsFragment) => {
    setVideos((current) =>
      current.map((video) =>
        video.id === videoId
          ? { ...video, latestConversion: latest(video.latestConversion, conversion) }
          : video,
      ),
    );
  }, []);
  const onDeleted = useCallback((videoId: string) => {
    generation.current++;
    setLoading(false);
    setVideos((current) => current.filter((video) => video.id !== videoId));
    // The card, and the focus with it, is gone: go on from the list's heading.
    heading.current?.focus();
  }, []);
  const reload = useCallback(() => void load(null), [load]);
  // A cancelled upload the server had whole is finished there after a moment; show it then.
  const settleTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const afterCancel = useCallback(() => {
    clearTimeout(settleTimer.current);
    settleTimer.current = setTimeout(() => void load(null), CANCEL_SETTLE_MS);
  }, [load]);
  useEffect(() => () => clearTimeout(settleTimer.current), []);

  return (
    <>
      <UploadForm api={api} onUploaded={onUploaded} onCancelled={afterCancel} />
      <section class="panel" aria-labelledby="videos-heading">
        <h2 id="videos-heading" ref={heading} tabIndex={-1}>
          Your videos
        </h2>
        {problem && (
          <p class="problem" role="alert">
            {problem}
          </p>
        )}
        {videos.length === 0 && !loading && !problem && (
          <p class="hint">Nothing here yet: upload a video above.</p>
        )}
        <ul class="videos">
          {videos.map((video) => (
            <VideoCard
              key={video.id}
              api={api}
              video={video}
              onConversion={onConversion}
              onDeleted={onDeleted}
              onStale={reload}
            />
          ))}
        </ul>
        {next && (
          <button
            type="button"
            class="secondary"
            disabled={loading}
            onClick={() => void load(next)}
          >
            Show older videos
          </button>
        )}
      </section>
      <NotificationSettings api={api} />
    </>
  );
}

/**
 * Of the conversion shown and one just heard of, the one to show: the same conversion's
 * newer state, or the later-queued of two (an event of a replaced conversion may still be
 * on its way).
 */
function latest(
  shown: ConversionFieldsFragment | null,
  heard: ConversionFieldsFragment,
): ConversionFieldsFragment {
  if (!shown || shown.id === heard.id) return heard;
  return Date.parse(heard.queuedAt) >= Date.parse(shown.queuedAt) ? heard : shown;
}
