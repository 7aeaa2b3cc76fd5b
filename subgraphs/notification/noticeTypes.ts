import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import type { FinalStatus } from '../../lib/contracts/conversionStatus.js';

/** What a user can ask to be told about: each final state of a conversion. */
export const NOTICE_TYPES = [
  'conversion.succeeded',
  'conversion.failed',
  'conversion.cancelled',
] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];

/** The type of a delivery an owner asked for by hand, to try an endpoint. */
export const TEST_NOTICE = 'webhook.test';

export const noticeTypeOf = (status: FinalStatus): NoticeType =>
  `conversion.${status.toLowerCase()}` as NoticeType;

/** GraphQL's NotificationEvent (CONVERSION_SUCCEEDED) and the wire's type (conversion.succeeded). */
export const noticeTypeFromEnum = (value: string): NoticeType =>
  value.toLowerCase().replace('_', '.') as NoticeType;
export const enumFromNoticeType = (type: NoticeType): string =>
  type.toUpperCase().replace('.', '_');

/** A list of GraphQL's NotificationEvent chosen by a user: at least one, each once. */
export function noticeTypesFromEnums(values: readonly string[]): NoticeType[] {
  if (values.length === 0) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, 'Choose at least one event', { field: 'events' });
  }
  return [...new Set(values.map(noticeTypeFromEnum))];
}
