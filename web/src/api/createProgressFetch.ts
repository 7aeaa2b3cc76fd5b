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
      if (signal?.aborted) {
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open(init.method ?? 'GET', input instanceof Request ? input.url : String(input));
      new Headers(init.headers).forEach((value, name) => xhr.setRequestHeader(name, value));
      xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded, event.total));
      xhr.addEventListener('load', () =>
        resolve(
          new Response(xhr.responseText, {
            status: xhr.status,
            statusText: xhr.statusText,
            headers: parseHeaders(xhr.getAllResponseHeaders()),
          }),
        ),
      );
      xhr.addEventListener('error', () => reject(new TypeError('The upload could not be sent.')));
      xhr.addEventListener('abort', () =>
        reject(new DOMException('The upload was cancelled.', 'AbortError')),
      );
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send((init.body ?? null) as XMLHttpRequestBodyInit | null);
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
