// Knative's request timeouts (S:pkg/http/handler/timeout.go), shared by queue-proxy and the
// activator. All are counted from the request's arrival, so time spent queued counts:
//   total          the whole request;
//   response start until the first response byte (0: off);
//   idle           since the last response byte, or since arrival before any (0: off).
// When one expires before the response started the client gets 504; after, the response is cut.
import type { DownstreamResponse } from './proxy.ts';

export interface RequestTimeouts {
  totalMs: number;
  responseStartMs: number;
  idleMs: number;
}

export const TIMEOUT_BODY = 'request timeout';

/**
 * When the request must next be checked: a time after `now` while none has expired, else
 * `now`. `lastWriteAt` is 0 while no response byte has been written.
 */
export function nextDeadline(timeouts: RequestTimeouts, arrivedAt: number, lastWriteAt: number, now: number): number {
  let deadline = arrivedAt + timeouts.totalMs;
  if (timeouts.responseStartMs > 0 && lastWriteAt === 0) deadline = Math.min(deadline, arrivedAt + timeouts.responseStartMs);
  if (timeouts.idleMs > 0) deadline = Math.min(deadline, (lastWriteAt === 0 ? arrivedAt : lastWriteAt) + timeouts.idleMs);
  return Math.max(deadline, now);
}

/** Ends a timed-out response: 504 while nothing was sent, else the connection is cut. */
export function endTimedOut(res: DownstreamResponse): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(504, { 'content-type': 'text/plain; charset=utf-8', 'content-length': TIMEOUT_BODY.length });
  res.end(TIMEOUT_BODY);
}
