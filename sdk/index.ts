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
