import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { ErrorCode } from '../lib/contracts/errorCodes.js';
import {
  AddPushSubscriptionDocument,
  AddWebhookEndpointDocument,
  CancelConversionDocument,
  ConversionDocument,
  ConversionUpdatedDocument,
  ConvertVideoDocument,
  DeleteVideoDocument,
  EmailNotificationsDocument,
  LogInDocument,
  MeDocument,
  PushSubscriptionsDocument,
  RemovePushSubscriptionDocument,
  RemoveWebhookEndpointDocument,
  ReplayWebhookDeliveryDocument,
  RotateWebhookSecretDocument,
  SetNotificationEmailDocument,
  SignUpDocument,
  TestWebhookEndpointDocument,
  UpdateEmailNotificationsDocument,
  UpdateWebhookEndpointDocument,
  UploadVideoDocument,
  VideoDocument,
  VapidPublicKeyDocument,
  VerifyNotificationEmailDocument,
  VideoAudioStreamsDocument,
  VideoConversionsDocument,
  VideosDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointDocument,
  WebhookEndpointsDocument,
  type AddWebhookEndpointMutation,
  type ConversionFieldsFragment,
  type EmailNotificationsFieldsFragment,
  type LogInMutation,
  type MeQuery,
  type Mp3Options,
  type NotificationEvent,
  type PushSubscriptionFieldsFragment,
  type PushSubscriptionInput,
  type VideoFieldsFragment,
  type VideoAudioStreamsQuery,
  type VideoConversionsQuery,
  type VideosQuery,
  type WebhookDeliveryFieldsFragment,
  type WebhookEndpointChange,
  type WebhookEndpointFieldsFragment,
} from './generated/graphql.js';
import { isReelfluxErrorCode, ReelfluxError, SdkErrorCode } from './ReelfluxError.js';
import {
  createSubscriptionSocket,
  subscriptionFailure,
} from './transport/createSubscriptionSocket.js';
import { bearer, postGraphQL } from './transport/postGraphQL.js';
import type { GraphQLBody } from './transport/readGraphQLAnswer.js';
import { sendMultipart } from './transport/sendMultipart.js';
import { sendResumable } from './transport/sendResumable.js';
import { openFaststartSource, openFaststartUpload } from './faststart/openFaststartUpload.js';

export type Conversion = ConversionFieldsFragment;
export type Video = VideoFieldsFragment;
export type AuthPayload = LogInMutation['logIn'];
export type User = NonNullable<MeQuery['me']>;
export type VideoPage = VideosQuery['videos'];
/** One page of a video's conversions, newest first. */
export type ConversionPage = NonNullable<VideoConversionsQuery['video']>['conversions'];
export type { Mp3Options };
/** An audio stream of a video, to offer as `mp3.audioTrack` (null before a worker probed it). */
export type AudioStream = NonNullable<
  NonNullable<VideoAudioStreamsQuery['video']>['audioStreams']
>[number];
export type WebhookEndpoint = WebhookEndpointFieldsFragment;
/** An endpoint with its signing secret, as adding it or rotating its secret answers, once. */
export type WebhookEndpointWithSecret = AddWebhookEndpointMutation['addWebhookEndpoint'];
/** One notice to one endpoint, with its attempts (oldest first). */
export type WebhookDelivery = WebhookDeliveryFieldsFragment;
export type WebhookAttempt = WebhookDelivery['attempts'][number];
export type { NotificationEvent, WebhookEndpointChange };
/** Where a user's notification mail goes, whether the address is proven, and what is mailed. */
export type EmailNotifications = EmailNotificationsFieldsFragment;
/** What `updateEmailNotifications` changes; what is left out stays as it is. */
export interface EmailNotificationsChange {
  enabled?: boolean;
  events?: NotificationEvent[];
}
/** A browser subscribed to Web Push notifications. */
export type PushSubscription = PushSubscriptionFieldsFragment;
/** A browser's `PushSubscription.toJSON()`: its push service endpoint and its keys. */
export type { PushSubscriptionInput };

export interface ClientOptions {
  /** The router's base URL, e.g. `http://127.0.0.1:4000` (`/graphql` is added). */
  url: string;
  token?: string;
}

/** Called as bytes move; `total` is undefined when the size is not known in advance. */
export type ProgressCallback = (done: number, total: number | undefined) => void;

export interface UploadOptions {
  mp3?: Mp3Options;
  /** The name the server keeps; default: the file's own name (or `video` for a stream). */
  filename?: string;
  /** For a stream: its size in bytes, if known (for progress and Content-Length). */
  size?: number;
}

/** Where a resumable upload stands between processes: `reelflux convert --resume` keeps it. */
export interface ResumeOptions {
  /** The URL of an upload begun earlier, to resume instead of starting again. */
  resumeUrl?: string;
  /** Told the new upload's URL as soon as it exists. */
  onCreated?: (uploadUrl: string) => void | Promise<void>;
}

export interface ConvertCallbacks {
  onUploadProgress?: ProgressCallback;
  /** The file goes remuxed in faststart order (see UploadCallbacks). */
  onFaststart?: () => void;
  /** Every state the conversion reports: QUEUED, RUNNING with progress, then the final one. */
  onUpdate?: (conversion: Conversion) => void;
  onDownloadProgress?: ProgressCallback;
  /** Aborting cancels the conversion on the server and rejects with code CANCELLED. */
  signal?: AbortSignal;
}

export interface ConvertResult {
  video: Video;
  conversion: Conversion;
  /** Where the MP3 was written. */
  output: string;
}

/** Progress and cancellation for one transfer. */
export interface TransferCallbacks {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface UploadCallbacks extends TransferCallbacks {
  /**
   * Called before the first byte when a file (a path) is sent in faststart order: an MP4/MOV
   * whose index (moov) came last, remuxed with it first, so the server converts it while it
   * arrives. The stored video (its bytes, its sha256) is then that remux.
   */
  onFaststart?: () => void;
}

/** Everything a REELFLUX client can do; each failure is a ReelfluxError. */
export interface ReelfluxClient {
  /** The server's base URL, without `/graphql`. */
  readonly url: string;
  /** The bearer token in use: given, or kept from the last signUp or logIn. */
  readonly token: string | undefined;
  signUp(email: string, password: string): Promise<AuthPayload>;
  logIn(email: string, password: string): Promise<AuthPayload>;
  me(): Promise<User | null>;
  /** One page of your videos, newest first; `after` is the previous page's `endCursor`. */
  videos(first?: number, after?: string): Promise<VideoPage>;
  /** One page of a video's conversions, newest first. */
  conversions(videoId: string, first?: number, after?: string): Promise<ConversionPage>;
  conversion(id: string): Promise<Conversion>;
  /** The video's audio streams once a worker has probed it (its first conversion), else null. */
  audioStreams(videoId: string): Promise<AudioStream[] | null>;
  convertVideo(videoId: string, mp3?: Mp3Options): Promise<Conversion>;
  cancelConversion(id: string): Promise<Conversion>;
  deleteVideo(id: string): Promise<boolean>;
  /** Streams a file (a path) or a stream (give `size` for progress) as a multipart upload. */
  uploadVideo(
    source: string | Readable,
    upload?: UploadOptions,
    callbacks?: UploadCallbacks,
  ): Promise<Video>;
  /**
   * Sends a file on disk as a resumable upload (tus 1.0 at `/uploads/`): after a network
   * error it asks the server where it stands and goes on from there, by itself.
   */
  uploadResumable(
    path: string,
    upload?: UploadOptions & ResumeOptions,
    callbacks?: UploadCallbacks,
  ): Promise<Video>;
  /** Live states of a conversion (by id) or of a video's latest one (by video id). */
  watchConversion(target: string | { id: string }): AsyncIterableIterator<Conversion>;
  /** Downloads an MP3 through its signed link, to a temp name renamed when complete. */
  download(
    audio: { downloadUrl: string; bytes?: number },
    destination: string,
    callbacks?: TransferCallbacks,
  ): Promise<{ path: string; bytes: number }>;
  /** Upload (resumable), convert, watch and download in one: what `reelflux convert` does. */
  convertFile(
    path: string,
    convert?: UploadOptions & ResumeOptions & { output?: string },
    callbacks?: ConvertCallbacks,
  ): Promise<ConvertResult>;
  /** Your webhook endpoints. */
  webhookEndpoints(): Promise<WebhookEndpoint[]>;
  webhookEndpoint(id: string): Promise<WebhookEndpoint>;
  /** A new endpoint for `events` (default: all); the answer holds its secret, shown only here. */
  addWebhookEndpoint(url: string, events?: NotificationEvent[]): Promise<WebhookEndpointWithSecret>;
  /** A new URL or events, or turns it off or on (on again also forgets its run of failures). */
  updateWebhookEndpoint(id: string, change: WebhookEndpointChange): Promise<WebhookEndpoint>;
  /** Removes an endpoint and drops its pending deliveries; rejects NOT_FOUND if there is none. */
  removeWebhookEndpoint(id: string): Promise<void>;
  /** A new secret, in the answer only; the old one signs beside it for 24 hours. */
  rotateWebhookSecret(id: string): Promise<WebhookEndpointWithSecret>;
  /** A signed `webhook.test` delivery, sent now; its attempts appear in `webhookDeliveries`. */
  testWebhookEndpoint(id: string): Promise<WebhookDelivery>;
  /** An endpoint's deliveries, newest first, `first` (1–100) of them. */
  webhookDeliveries(endpointId: string, first?: number): Promise<WebhookDelivery[]>;
  /** A delivery sent again now, under the same `webhook-id`. */
  replayWebhookDelivery(id: string): Promise<WebhookDelivery>;
  /** Your notification address and choices; null until an address is set. */
  emailNotifications(): Promise<EmailNotifications | null>;
  /** A new, unverified address: mails it a 6-digit code and a link, either of which proves it. */
  setNotificationEmail(address: string): Promise<EmailNotifications>;
  /** Proves the address with the mailed code; rejects BAD_USER_INPUT if wrong or expired. */
  verifyNotificationEmail(code: string): Promise<EmailNotifications>;
  /** Turns notification mail on or off, or changes its events; NOT_FOUND before an address. */
  updateEmailNotifications(change: EmailNotificationsChange): Promise<EmailNotifications>;
  /** The server's VAPID key for `PushManager.subscribe`; null where push is not configured. */
  vapidPublicKey(): Promise<string | null>;
  /** Your browsers subscribed to push notifications. */
  pushSubscriptions(): Promise<PushSubscription[]>;
  /**
   * A browser's subscription (`PushSubscription.toJSON()`) for `events` (default: all). Only
   * push services the server allows (PUSH_SERVICE_HOSTS) are accepted.
   */
  addPushSubscription(
    subscription: PushSubscriptionInput,
    events?: NotificationEvent[],
  ): Promise<PushSubscription>;
  /** Forgets a browser; rejects NOT_FOUND if there is none. */
  removePushSubscription(id: string): Promise<void>;
}

/**
 * A typed REELFLUX client for Node 20+: GraphQL over HTTP for queries and mutations, multipart
 * for uploads (streamed from disk), graphql-ws for live conversion updates. Every failure is a
 * ReelfluxError with the server's `extensions.code`.
 */
export function createReelfluxClient(options: ClientOptions): ReelfluxClient {
  const base = options.url.replace(/\/+$/, '').replace(/\/graphql$/, '');
  const graphqlUrl = `${base}/graphql`;
  let token = options.token;

  const request = <TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): Promise<TResult> => postGraphQL({ url: graphqlUrl, token, document, variables });

  const client: ReelfluxClient = {
    url: base,
    get token() {
      return token;
    },

    async signUp(email: string, password: string): Promise<AuthPayload> {
      const { signUp } = await request(SignUpDocument, { email, password });
      token = signUp.token;
      return signUp;
    },

    async logIn(email: string, password: string): Promise<AuthPayload> {
      const { logIn } = await request(LogInDocument, { email, password });
      token = logIn.token;
      return logIn;
    },

    async me(): Promise<User | null> {
      return (await request(MeDocument, {})).me;
    },

    async videos(first = 20, after?: string): Promise<VideoPage> {
      return (await request(VideosDocument, { first, ...(after ? { after } : {}) })).videos;
    },

    /** A video's conversions, newest first, `first` (1–100) at a time after the cursor `after`. */
    async conversions(videoId: string, first = 20, after?: string): Promise<ConversionPage> {
      const { video } = await request(VideoConversionsDocument, {
        videoId,
        first,
        ...(after ? { after } : {}),
      });
      if (!video) throw new ReelfluxError('NOT_FOUND', 'Video not found');
      return video.conversions;
    },

    async conversion(id: string): Promise<Conversion> {
      const { conversion } = await request(ConversionDocument, { id });
      if (!conversion) throw new ReelfluxError('NOT_FOUND', 'Conversion not found');
      return conversion;
    },

    async convertVideo(videoId: string, mp3?: Mp3Options): Promise<Conversion> {
      return (await request(ConvertVideoDocument, { videoId, ...(mp3 ? { mp3 } : {}) }))
        .convertVideo;
    },

    async cancelConversion(id: string): Promise<Conversion> {
      return (await request(CancelConversionDocument, { id })).cancelConversion;
    },

    async audioStreams(videoId: string): Promise<AudioStream[] | null> {
      const { video } = await request(VideoAudioStreamsDocument, { id: videoId });
      if (!video) throw new ReelfluxError('NOT_FOUND', 'Video not found');
      return video.audioStreams ?? null;
    },

    async deleteVideo(id: string): Promise<boolean> {
      return (await request(DeleteVideoDocument, { id })).deleteVideo;
    },

    /** Streams a file (path) or a Readable to the server; resolves with the stored video. */
    async uploadVideo(
      source: string | Readable,
      upload: UploadOptions = {},
      callbacks: UploadCallbacks = {},
    ): Promise<Video> {
      // A file goes in faststart order (moov first) when that lets the server stream it.
      const { stream, size, sent } =
        typeof source === 'string'
          ? await openFaststartUpload(source)
          : { stream: source, size: upload.size, sent: undefined };
      if (sent === 'faststart') callbacks.onFaststart?.();
      const filename = upload.filename ?? (typeof source === 'string' ? basename(source) : 'video');
      const { uploadVideo } = await sendMultipart(
        {
          url: graphqlUrl,
          token,
          document: UploadVideoDocument,
          variables: upload.mp3 ? { mp3: upload.mp3 } : {},
          onProgress: callbacks.onProgress,
          signal: callbacks.signal,
        },
        {
          stream,
          filename,
          contentType: contentTypeFor(filename),
          size,
        },
      );
      return uploadVideo;
    },

    async uploadResumable(
      path: string,
      upload: UploadOptions & ResumeOptions = {},
      callbacks: UploadCallbacks = {},
    ): Promise<Video> {
      const sendable = await openFaststartSource(path);
      let uploadUrl: string;
      try {
        if (sendable.sent === 'faststart') callbacks.onFaststart?.();
        uploadUrl = await sendResumable({
          url: base,
          token,
          path,
          open: (from) => sendable.open(from),
          size: sendable.size,
          filename: upload.filename ?? basename(path),
          ...(upload.mp3 ? { mp3: { ...upload.mp3 } } : {}),
          ...(upload.resumeUrl ? { resumeUrl: upload.resumeUrl } : {}),
          ...(upload.onCreated ? { onCreated: upload.onCreated } : {}),
          ...(callbacks.onProgress ? { onProgress: callbacks.onProgress } : {}),
          ...(callbacks.signal ? { signal: callbacks.signal } : {}),
        });
      } finally {
        await sendable.close();
      }
      // The upload's id is the video's.
      const id = new URL(uploadUrl).pathname.split('/').at(-1) ?? '';
      const { video } = await request(VideoDocument, { id });
      if (!video) throw new ReelfluxError('NOT_FOUND', 'The uploaded video is not there');
      return video;
    },

    /**
     * Live states of a conversion, current one first, ending after a final state. Give a video
     * id (follows its latest conversion) or `{ id }` for one conversion. The socket reconnects
     * by itself if a router goes away; the server then sends the current state again.
     */
    watchConversion(target: string | { id: string }): AsyncIterableIterator<Conversion> {
      return watch(
        createSocket(),
        typeof target === 'string' ? { videoId: target } : { id: target.id },
      );
    },

    /** Downloads an MP3 to `destination` (a path, written whole or not at all). */
    async download(
      audio: { downloadUrl: string; bytes?: number },
      destination: string,
      callbacks: TransferCallbacks = {},
    ): Promise<{ path: string; bytes: number }> {
      let response: Response;
      try {
        response = await fetch(new URL(audio.downloadUrl, base), {
          headers: bearer(token),
          ...(callbacks.signal ? { signal: callbacks.signal } : {}),
        });
      } catch (error) {
        throw new ReelfluxError('NETWORK_ERROR', `download failed: ${String(error)}`, {
          cause: error,
        });
      }
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => ({}))) as GraphQLBody<unknown>;
        if (body.errors?.length) throw ReelfluxError.fromErrors(body.errors, response.status);
        throw new ReelfluxError('NETWORK_ERROR', `download answered ${response.status}`, {
          status: response.status,
        });
      }
      const length = Number(response.headers.get('content-length') ?? NaN);
      const total = Number.isFinite(length) ? length : audio.bytes;
      let done = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          done += chunk.length;
          callbacks.onProgress?.(done, total);
          next(null, chunk);
        },
      });
      const partial = `${destination}.part`;
      try {
        await pipeline(Readable.fromWeb(response.body), counter, createWriteStream(partial));
        if (audio.bytes !== undefined && done !== audio.bytes) {
          throw new ReelfluxError(
            'NETWORK_ERROR',
            `download ended at ${done} of ${audio.bytes} bytes`,
          );
        }
        await rename(partial, destination);
      } catch (error) {
        await rm(partial, { force: true });
        if (error instanceof ReelfluxError) throw error;
        throw new ReelfluxError(
          callbacks.signal?.aborted ? 'CANCELLED' : 'NETWORK_ERROR',
          `download failed: ${String(error)}`,
          { cause: error },
        );
      }
      return { path: destination, bytes: done };
    },

    /**
     * Upload, watch and download in one: resolves once the MP3 is at `output` (default: the
     * video's path with `.mp3`). A FAILED or CANCELLED conversion rejects with its code.
     */
    async convertFile(
      path: string,
      convert: UploadOptions & ResumeOptions & { output?: string } = {},
      callbacks: ConvertCallbacks = {},
    ): Promise<ConvertResult> {
      const { signal } = callbacks;
      // Never over the input itself (an MP3 or M4A can be "converted" too).
      const defaultOutput = replaceExtension(path, '.mp3');
      const output =
        convert.output ??
        (resolve(defaultOutput) === resolve(path)
          ? replaceExtension(path, '.reelflux.mp3')
          : defaultOutput);
      const video = await client.uploadResumable(path, convert, {
        ...(callbacks.onUploadProgress ? { onProgress: callbacks.onUploadProgress } : {}),
        ...(callbacks.onFaststart ? { onFaststart: callbacks.onFaststart } : {}),
        ...(signal ? { signal } : {}),
      });
      const updates = client.watchConversion(video.id);
      let last: Conversion | undefined;
      const cancel = () => void updates.return?.();
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        for await (const update of updates) {
          last = update;
          callbacks.onUpdate?.(update);
        }
      } finally {
        signal?.removeEventListener('abort', cancel);
      }
      if (signal?.aborted) {
        if (last && !isFinalStatus(last.status)) await client.cancelConversion(last.id);
        throw new ReelfluxError('CANCELLED', 'conversion cancelled');
      }
      if (!last) throw new ReelfluxError('CONNECTION_CLOSED', 'no conversion state received');
      if (last.status !== 'SUCCEEDED' || !last.audio) {
        const code = isReelfluxErrorCode(last.error?.code)
          ? last.error.code
          : last.status === 'CANCELLED'
            ? SdkErrorCode.CANCELLED
            : ErrorCode.INTERNAL_SERVER_ERROR;
        throw new ReelfluxError(
          code,
          last.error?.message ?? `conversion ${last.status.toLowerCase()}`,
        );
      }
      await client.download(last.audio, output, {
        ...(callbacks.onDownloadProgress ? { onProgress: callbacks.onDownloadProgress } : {}),
        ...(signal ? { signal } : {}),
      });
      return { video, conversion: last, output };
    },

    async webhookEndpoints(): Promise<WebhookEndpoint[]> {
      return (await request(WebhookEndpointsDocument, {})).webhookEndpoints;
    },

    async webhookEndpoint(id: string): Promise<WebhookEndpoint> {
      const { webhookEndpoint } = await request(WebhookEndpointDocument, { id });
      if (!webhookEndpoint) throw new ReelfluxError('NOT_FOUND', 'Webhook endpoint not found');
      return webhookEndpoint;
    },

    async addWebhookEndpoint(
      url: string,
      events?: NotificationEvent[],
    ): Promise<WebhookEndpointWithSecret> {
      return (
        await request(AddWebhookEndpointDocument, { input: { url, ...(events ? { events } : {}) } })
      ).addWebhookEndpoint;
    },

    async updateWebhookEndpoint(
      id: string,
      change: WebhookEndpointChange,
    ): Promise<WebhookEndpoint> {
      return (await request(UpdateWebhookEndpointDocument, { id, change })).updateWebhookEndpoint;
    },

    async removeWebhookEndpoint(id: string): Promise<void> {
      const { removeWebhookEndpoint } = await request(RemoveWebhookEndpointDocument, { id });
      if (!removeWebhookEndpoint)
        throw new ReelfluxError('NOT_FOUND', 'Webhook endpoint not found');
    },

    async rotateWebhookSecret(id: string): Promise<WebhookEndpointWithSecret> {
      return (await request(RotateWebhookSecretDocument, { id })).rotateWebhookSecret;
    },

    async testWebhookEndpoint(id: string): Promise<WebhookDelivery> {
      return (await request(TestWebhookEndpointDocument, { id })).testWebhookEndpoint;
    },

    async webhookDeliveries(endpointId: string, first = 20): Promise<WebhookDelivery[]> {
      const { webhookEndpoint } = await request(WebhookDeliveriesDocument, { endpointId, first });
      if (!webhookEndpoint) throw new ReelfluxError('NOT_FOUND', 'Webhook endpoint not found');
      return webhookEndpoint.deliveries;
    },

    async replayWebhookDelivery(id: string): Promise<WebhookDelivery> {
      return (await request(ReplayWebhookDeliveryDocument, { id })).replayWebhookDelivery;
    },

    async emailNotifications(): Promise<EmailNotifications | null> {
      return (await request(EmailNotificationsDocument, {})).emailNotifications;
    },

    async setNotificationEmail(address: string): Promise<EmailNotifications> {
      return (await request(SetNotificationEmailDocument, { address })).setNotificationEmail;
    },

    async verifyNotificationEmail(code: string): Promise<EmailNotifications> {
      return (await request(VerifyNotificationEmailDocument, { code })).verifyNotificationEmail;
    },

    async updateEmailNotifications(change: EmailNotificationsChange): Promise<EmailNotifications> {
      return (await request(UpdateEmailNotificationsDocument, change)).updateEmailNotifications;
    },

    async vapidPublicKey(): Promise<string | null> {
      return (await request(VapidPublicKeyDocument, {})).vapidPublicKey;
    },

    async pushSubscriptions(): Promise<PushSubscription[]> {
      return (await request(PushSubscriptionsDocument, {})).pushSubscriptions;
    },

    async addPushSubscription(
      subscription: PushSubscriptionInput,
      events?: NotificationEvent[],
    ): Promise<PushSubscription> {
      // Only the fields the API takes: toJSON() also holds expirationTime.
      const { endpoint, keys } = subscription;
      return (
        await request(AddPushSubscriptionDocument, {
          subscription: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } },
          ...(events ? { events } : {}),
        })
      ).addPushSubscription;
    },

    async removePushSubscription(id: string): Promise<void> {
      const { removePushSubscription } = await request(RemovePushSubscriptionDocument, { id });
      if (!removePushSubscription)
        throw new ReelfluxError('NOT_FOUND', 'Push subscription not found');
    },
  };

  // A router restart or a lost network: try again for about a minute, also when the
  // connection is refused (graphql-ws retries only closes by default).
  const createSocket = (): Client =>
    createSubscriptionSocket({
      url: graphqlUrl,
      token,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 8,
    });

  return client;
}

function watch(
  socket: Client,
  variables: { videoId: string } | { id: string },
): AsyncIterableIterator<Conversion> {
  const inner = socket.iterate<{ conversionUpdated: Conversion }>({
    query: print(ConversionUpdatedDocument),
    variables,
  });
  const finish = async () => {
    await inner.return?.();
    await socket.dispose();
  };
  const iterator: AsyncIterableIterator<Conversion> = {
    async next() {
      let step: IteratorResult<{
        data?: { conversionUpdated: Conversion } | null;
        errors?: unknown;
      }>;
      try {
        step = (await inner.next()) as typeof step;
      } catch (error) {
        await finish();
        throw subscriptionFailure(error);
      }
      if (step.done) {
        await finish();
        return { done: true, value: undefined };
      }
      const update = step.value.data?.conversionUpdated;
      if (!update) {
        await finish();
        throw subscriptionFailure(step.value.errors);
      }
      return { done: false, value: update };
    },
    async return() {
      await finish();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.avi': 'video/x-msvideo',
  '.flv': 'video/x-flv',
  '.ogg': 'video/ogg',
  '.ogv': 'video/ogg',
  '.ts': 'video/mp2t',
  '.mpg': 'video/mpeg',
  '.mpeg': 'video/mpeg',
  '.wmv': 'video/x-ms-wmv',
};

/** A hint only: the server sniffs the bytes and decides. */
function contentTypeFor(filename: string): string {
  return CONTENT_TYPES[extname(filename).toLowerCase()] ?? 'application/octet-stream';
}

function replaceExtension(path: string, extension: string): string {
  const current = extname(path);
  return `${current ? path.slice(0, -current.length) : path}${extension}`;
}
