import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

/** Bytes of the request body sent so far, and its whole size when known. */
export type UploadProgress = (sentBytes: number, totalBytes: number | undefined) => void;

/**
 * One GraphQL multipart request with one file, whichever way it is sent (Node streams it from
 * disk, a browser sends a File): the operation, the variable the file goes into, progress and
 * cancellation. `Apollo-Require-Preflight` goes with it: no cross-site form post.
 */
export interface MultipartRequest<TResult, TVariables> {
  url: string;
  token?: string | undefined;
  document: TypedDocumentNode<TResult, TVariables>;
  /** The operation's variables but the file's. */
  variables: Omit<TVariables, 'file'>;
  /** The variable the file goes into. @default 'file' */
  fileVariable?: string;
  onProgress?: UploadProgress | undefined;
  signal?: AbortSignal | undefined;
}

/** The operation as the multipart request's `operations` field holds it, without the file. */
export function operationOf<TResult, TVariables>(
  request: MultipartRequest<TResult, TVariables>,
): { query: string; variables: Record<string, unknown> } {
  return { query: print(request.document), variables: { ...request.variables } };
}
