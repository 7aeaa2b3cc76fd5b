// The REELFLUX SDK: everything a Node client needs, and nothing from the server side.
export {
  createReelfluxClient,
  type AuthPayload,
  type ClientOptions,
  type Conversion,
  type ConvertCallbacks,
  type ConvertResult,
  type EmailNotifications,
  type EmailNotificationsChange,
  type Mp3Options,
  type ProgressCallback,
  type PushSubscription,
  type PushSubscriptionInput,
  type ReelfluxClient,
  type TransferCallbacks,
  type ResumeOptions,
  type UploadCallbacks,
  type UploadOptions,
  type User,
  type Video,
  type VideoPage,
  type NotificationEvent,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointChange,
  type WebhookEndpointWithSecret,
} from './createReelfluxClient.js';
export {
  ReelfluxError,
  SdkErrorCode,
  type ReelfluxErrorCode,
  type ServerError,
} from './ReelfluxError.js';
export type { ConversionStatus, DeliveryStatus } from './generated/graphql.js';
// Faststart (moov first) on the client: uploadVideo uses it; here for other ways of sending.
export type { ByteSource } from './faststart/ByteSource.js';
export { blobByteSource } from './faststart/blobByteSource.js';
export {
  createFaststartStream,
  readFaststartPlan,
  type FaststartOptions,
  type FaststartStream,
} from './faststart/createFaststartStream.js';
export { faststartBlobParts } from './faststart/faststartBlobParts.js';
export { openFileByteSource } from './faststart/openFileByteSource.js';
export type { FaststartPlan, PassthroughReason } from './faststart/planFaststart.js';
