// Error answers for clients, who may be anyone: a short generic text (as Envoy's and Knative's)
// and a request id, never an address, a namespace, a revision or an exception's message. The
// details go to the log under the same id, so an operator can find them from the client's report.
import { http } from './builtins.ts';
import type { DownstreamResponse } from './proxy.ts';

// Not `import { STATUS_CODES } from 'node:http'`: that namespace loads Node's bundled undici (see builtins.ts).
const { STATUS_CODES } = http;

/** The response header carrying the id of a failed request (Envoy's name for its request id). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Tells this process's ids from other processes' (node:crypto is not loaded for it: queue-proxy runs in every pod). */
const PROCESS_PREFIX = Math.floor(Math.random() * 2 ** 48)
  .toString(16)
  .padStart(12, '0');
let sequence = 0;

/** An id for one failed request, made only when a request fails, so success costs nothing. */
export const newRequestId = (): string => `${PROCESS_PREFIX}-${(++sequence).toString(16).padStart(8, '0')}`;

/** What a client is told: the status's own words, and the id to quote. */
export function errorBody(status: number, requestId: string): string {
  return `${(STATUS_CODES[status] ?? 'error').toLowerCase()}\nrequest id: ${requestId}\n`;
}

/** The status line, headers and body of an error answer on a socket no HTTP server writes to any more. */
export function rawErrorResponse(status: number, requestId: string): string {
  const body = errorBody(status, requestId);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nconnection: close\r\n` +
    `content-type: text/plain; charset=utf-8\r\n${REQUEST_ID_HEADER}: ${requestId}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** The headers of an error answer with `body`. */
export function errorHeaders(body: string, requestId: string): Record<string, string | number> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: requestId,
  };
}

/** Answers an error on a response no byte has been written to. */
export function writeError(res: DownstreamResponse, status: number, requestId: string): void {
  const body = errorBody(status, requestId);
  res.writeHead(status, errorHeaders(body, requestId));
  res.end(body);
}
