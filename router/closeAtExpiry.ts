import { CloseCode } from 'graphql-ws';
import type { WebSocket } from 'ws';

/** setTimeout's longest delay; a token may live longer (JWT_TTL_SECONDS, up to 30 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Closes the socket with 4403, as for a refused token, once `expiresAt` has passed: a
 * subscription answers with the token it was opened with, so it must not outlive it. Returns
 * the function that cancels it.
 */
export function closeAtExpiry(socket: WebSocket, expiresAt: Date): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left > 0) {
      timer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
      return;
    }
    socket.close(CloseCode.Forbidden, 'Forbidden: token expired');
  };
  check();
  return () => clearTimeout(timer);
}
