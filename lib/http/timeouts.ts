// Knative's request timeouts (S:pkg/http/handler/timeout.go), shared by every hop. They are counted
// from the request's arrival, so time spent queued counts:
//   first byte     until the first response byte: the revision's timeoutSeconds;
//   response start until the first response byte too (responseStartTimeoutSeconds; 0: off);
//   idle           since the last response byte, or since arrival before any (0: off).
// Once the response has started only the idle timeout applies, so a response may stream for as
// long as it keeps writing. One that expires before the response started answers 504; the idle
// timeout after that cuts the response.
import type { DownstreamResponse } from './proxy.ts';

export interface RequestTimeouts {
  firstByteMs: number;
  responseStartMs: number;
  idleMs: number;
}

export const TIMEOUT_BODY = 'request timeout';

/**
 * When the request must next be checked: a time after `now` while none has expired (Infinity
 * once the response started and no idle timeout applies), else `now`. `lastWriteAt` is 0 while
 * no response byte has been written.
 */
export function nextDeadline(timeouts: RequestTimeouts, arrivedAt: number, lastWriteAt: number, now: number): number {
  let deadline: number;
  if (lastWriteAt === 0) {
    deadline = arrivedAt + timeouts.firstByteMs;
    if (timeouts.responseStartMs > 0) deadline = Math.min(deadline, arrivedAt + timeouts.responseStartMs);
    if (timeouts.idleMs > 0) deadline = Math.min(deadline, arrivedAt + timeouts.idleMs);
  } else {
    deadline = timeouts.idleMs > 0 ? lastWriteAt + timeouts.idleMs : Infinity;
  }
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
