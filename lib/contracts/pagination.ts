import { ErrorCode, graphqlError } from './errors.js';

/** Items a page holds when `first` is not given; also what query cost assumes then. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** `first` as a page size, or BAD_USER_INPUT naming the field. */
export function readPageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, `first must be from 1 to ${MAX_PAGE_SIZE}`, {
      field: 'first',
    });
  }
  return size;
}
