/** Bytes of the request body sent so far, and the body's whole size. */
export type UploadProgress = (sentBytes: number, totalBytes: number) => void;

/**
 * A `fetch` that reports upload progress. `fetch` itself cannot (its request streams have no
 * progress events and need HTTP/2), XMLHttpRequest can, so this is fetch's contract on top of
 * XMLHttpRequest: the request's `signal` aborts it, a failed connection rejects with a
 * TypeError, and the answer comes back as a `Response`. urql takes it per operation
 * (`context.fetch`), so only uploads go this way.
 */
export function createProgressFetch(onProgress: UploadProgress): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal;
      const cancelled = () => new DOMException('The upload was cancelled.', 'AbortError');
      if (signal?.aborted) {
        reject(cancelled());
        return;
      }
      const xhr = new XMLHttpRequest();
      const abort = () => xhr.abort();
      const settle = (outcome: () => void) => {
        signal?.removeEventListener('abort', abort);
        outcome();
      };
      xhr.open(init.method ?? 'GET', input instanceof Request ? input.url : String(input));
      new Headers(init.headers).forEach((value, name) => xhr.setRequestHeader(name, value));
      xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded, event.total));
      xhr.addEventListener('load', () =>
        settle(() => {
          try {
            resolve(toResponse(xhr));
          } catch (error) {
            reject(error instanceof Error ? error : new TypeError(String(error)));
          }
        }),
      );
      xhr.addEventListener('error', () =>
        settle(() => reject(new TypeError('The upload could not be sent.'))),
      );
      xhr.addEventListener('abort', () => settle(() => reject(cancelled())));
      signal?.addEventListener('abort', abort, { once: true });
      xhr.send((init.body ?? null) as XMLHttpRequestBodyInit | null);
    });
}

/** Statuses whose answers have no body; `new Response` refuses one for them. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function toResponse(xhr: XMLHttpRequest): Response {
  // Outside 200–599 `new Response` throws; a status of 0 is no answer at all.
  if (xhr.status < 200 || xhr.status > 599) {
    throw new TypeError(`The upload got no usable answer (status ${xhr.status}).`);
  }
  return new Response(NULL_BODY_STATUSES.has(xhr.status) ? null : xhr.responseText, {
    status: xhr.status,
    statusText: xhr.statusText,
    headers: parseHeaders(xhr.getAllResponseHeaders()),
  });
}

function parseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.trim().split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}
