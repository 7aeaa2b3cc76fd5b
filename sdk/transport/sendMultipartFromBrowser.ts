import { ReelfluxError } from '../ReelfluxError.js';
import { bearer } from './postGraphQL.js';
import { operationOf, type MultipartRequest } from './MultipartRequest.js';
import { readGraphQLAnswer } from './readGraphQLAnswer.js';

/** What is used of XMLHttpRequest, declared here: the SDK compiles without the DOM's types. */
interface Xhr {
  readonly status: number;
  readonly responseText: string;
  readonly upload: {
    addEventListener(
      type: 'progress',
      listener: (event: { loaded: number; total: number; lengthComputable: boolean }) => void,
    ): void;
  };
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  addEventListener(type: 'load' | 'error' | 'abort', listener: () => void): void;
  send(body: FormData): void;
  abort(): void;
}

/**
 * One GraphQL multipart request from a browser. The browser's FormData frames it (the shared
 * framing draws its boundary with `crypto.randomUUID`, which a page served over plain HTTP
 * from another host than localhost does not have). It goes over XMLHttpRequest: `fetch` has no upload progress (its request streams need HTTP/2 and report
 * nothing), XMLHttpRequest does. The browser reads the File from disk as it sends; `signal`
 * aborts the request (CANCELLED), a lost connection is NETWORK_ERROR.
 */
export function sendMultipartFromBrowser<TResult, TVariables>(
  request: MultipartRequest<TResult, TVariables>,
  file: File,
): Promise<TResult> {
  const fileVariable = request.fileVariable ?? 'file';
  const { query, variables } = operationOf(request);
  const body = new FormData();
  body.append(
    'operations',
    JSON.stringify({ query, variables: { ...variables, [fileVariable]: null } }),
  );
  body.append('map', JSON.stringify({ 0: [`variables.${fileVariable}`] }));
  body.append('0', file, file.name);
  const { signal } = request;
  return new Promise<TResult>((resolve, reject) => {
    const cancelled = () => new ReelfluxError('CANCELLED', 'upload cancelled');
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const xhr = new (globalThis as unknown as { XMLHttpRequest: new () => Xhr }).XMLHttpRequest();
    const abort = () => xhr.abort();
    const settle = (outcome: () => void) => {
      signal?.removeEventListener('abort', abort);
      outcome();
    };
    xhr.open('POST', request.url);
    const headers = { ...bearer(request.token), 'apollo-require-preflight': 'true' };
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) =>
      request.onProgress?.(event.loaded, event.lengthComputable ? event.total : undefined),
    );
    xhr.addEventListener('load', () =>
      settle(() => {
        try {
          resolve(readGraphQLAnswer<TResult>(request.url, xhr.status, xhr.responseText));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
    xhr.addEventListener('error', () =>
      settle(() => reject(new ReelfluxError('NETWORK_ERROR', 'upload failed: connection lost'))),
    );
    xhr.addEventListener('abort', () => settle(() => reject(cancelled())));
    signal?.addEventListener('abort', abort, { once: true });
    xhr.send(body);
  });
}
