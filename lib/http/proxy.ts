// The reverse-proxy core: one downstream request forwarded to a dispatcher (undici's, or a
// NodeDispatcher), streaming
// both ways with backpressure, and aborting the other side when either side goes away.
// The exchange is itself the undici dispatch handler, so a proxied request costs one object
// plus its header list.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { realClock, type Clock } from '../clock.ts';
import { errorBody, errorHeaders, newRequestId } from './errors.ts';
import { downstreamResponseHeaders, replaceHost, upstreamRequestHeaders } from './headers.ts';

export type DownstreamRequest = IncomingMessage | Http2ServerRequest;

/** What the proxy needs of a dispatcher: undici's Pool and H2CClient, or a NodeDispatcher. */
export interface Dispatch {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
}

/** The part of ServerResponse and Http2ServerResponse the proxy writes through. */
export interface DownstreamResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  setHeader(name: string, value: string | number | readonly string[]): unknown;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  addTrailers(trailers: OutgoingHttpHeaders): void;
  writeEarlyHints(hints: OutgoingHttpHeaders): void;
  destroy(error?: Error): unknown;
  once(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * How an exchange ended: `completed` (the whole response was written), `client-closed` (the
 * downstream went away first), `upstream-failed` (the upstream errored; a 502 was sent when
 * nothing else had been), `aborted` (the owner called abort()).
 */
export type ExchangeOutcome = 'completed' | 'client-closed' | 'upstream-failed' | 'aborted';

export interface ExchangeListener {
  exchangeEnded(exchange: ProxyExchange, outcome: ExchangeOutcome, error: Error | undefined): void;
}

/** The status recorded for requests whose client left before any response (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

/** The status to record for an exchange that ended: the one sent, or 499 when the client left before any. */
export function endedStatus(res: DownstreamResponse, outcome: ExchangeOutcome): number {
  if (outcome === 'client-closed' && !res.headersSent) return CLIENT_CLOSED_STATUS;
  return (res as unknown as { statusCode?: number }).statusCode ?? 0;
}

/**
 * How an upstream failed, for the 'upstream failed' line every hop logs: the client sees only a
 * generic 502 and its request id, the operator finds the error's code and message by that id.
 */
export function upstreamFailureFields(
  exchange: ProxyExchange | undefined,
  error: Error | undefined,
): {
  requestId: string | undefined;
  code: string | undefined;
  error: string | undefined;
} {
  return {
    requestId: exchange?.requestId,
    code: (error as NodeJS.ErrnoException | undefined)?.code,
    error: error?.message,
  };
}

/**
 * Error codes that mean the connection was never made, so the upstream saw nothing of the
 * request: it may go to another endpoint whatever its method, and the endpoint is suspect.
 */
const NOT_CONNECTED: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function neverConnected(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && NOT_CONNECTED.has(code);
}

export class ClientClosedError extends Error {
  readonly code = 'PROXY_CLIENT_CLOSED';
  constructor() {
    super('client closed the connection before the response ended');
  }
}

export class ExchangeAbortedError extends Error {
  readonly code = 'PROXY_ABORTED';
}

export interface ForwardOptions {
  /** Lower-cased request headers that must not reach the upstream. */
  dropRequestHeaders?: ReadonlySet<string>;
  /** Replaces the request's Host header (e.g. restored from K-Original-Host). */
  host?: string;
  /** Appended to the request's headers, as a flat [name, value, …] list. */
  addHeaders?: readonly string[];
}

function hasNoBody(req: DownstreamRequest): boolean {
  const headers = req.headers;
  if (headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  if (length !== undefined) return length === '0';
  // HTTP/2 requests may carry a body without Content-Length; only the methods that never do are safe to skip.
  return req.httpVersionMajor < 2 || req.method === 'GET' || req.method === 'HEAD';
}

export class ProxyExchange implements Dispatcher.DispatchHandler {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  /** Clock time of the last byte written downstream (status line included); 0 before any. */
  lastWriteAt = 0;
  /** Set when the exchange answered an error itself: the id the client was given, for the log. */
  requestId: string | undefined;
  #listener: ExchangeListener;
  #clock: Clock;
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #ended = false;

  constructor(req: DownstreamRequest, res: DownstreamResponse, listener: ExchangeListener, clock: Clock = realClock) {
    this.req = req;
    this.res = res;
    this.#listener = listener;
    this.#clock = clock;
  }

  /** Sends the request to the dispatcher; the listener hears exactly once how it ended. */
  start(dispatcher: Dispatch, options?: ForwardOptions): void {
    const req = this.req;
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers, options?.dropRequestHeaders);
    if (options?.host !== undefined) replaceHost(headers, options.host);
    if (options?.addHeaders !== undefined) headers.push(...options.addHeaders);
    this.res.once('close', this.#onDownstreamClose);
    dispatcher.dispatch(
      {
        path: req.url ?? '/',
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: hasNoBody(req) ? null : (req as Readable),
      },
      this,
    );
  }

  /** Stops the exchange; the owner answers the client (e.g. with a 504) if it still can. */
  abort(reason: Error): void {
    if (this.#ended) return;
    this.#abortReason = reason;
    if (this.#controller) this.#controller.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.#ended) return;
    if (statusCode < 200) {
      // 103 Early Hints go on to the client, which may start fetching what they link; other
      // interim responses (a 100 nobody asked for) are the upstream connection's business.
      if (statusCode === 103) this.#forwardEarlyHints(headers);
      return;
    }
    this.lastWriteAt = this.#clock.now();
    const res = this.res;
    const forwarded = downstreamResponseHeaders(headers);
    // A 204 has no content, so no length (RFC 9110 §8.6), whatever the upstream wrote.
    if (statusCode === 204) delete forwarded['content-length'];
    res.writeHead(statusCode, forwarded);
    // The head leaves now, not with the first body chunk: a response that starts and then takes
    // its time (a stream, Knative's time-to-first-byte) must be seen to start at every hop.
    // HTTP/2 sends it on writeHead; over HTTP/1.1 the socket stays corked for the rest of the tick,
    // so a body that came with the head still leaves in the same packet.
    if (this.req.httpVersionMajor < 2) {
      const http1 = res as ServerResponse;
      const socket = http1.socket;
      if (socket !== null && !socket.writableCorked) {
        socket.cork();
        process.nextTick(uncork, socket);
      }
      http1.flushHeaders();
    }
  }

  /** Interim responses mean nothing to an HTTP/1.0 client (RFC 9110 §15.2), which never gets them. */
  #forwardEarlyHints(headers: IncomingHttpHeaders): void {
    const req = this.req;
    if (this.res.headersSent || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
    try {
      this.res.writeEarlyHints(downstreamResponseHeaders(headers));
    } catch {
      // A Link that Node refuses to write: hints are only hints, the response still follows.
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#ended) return;
    this.lastWriteAt = this.#clock.now();
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.#ended) return;
    if (!isEmpty(trailers)) this.res.addTrailers(downstreamResponseHeaders(trailers));
    this.res.end();
    this.#end('completed', undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#ended) return;
    if (this.#abortReason) {
      this.#end(error instanceof ClientClosedError ? 'client-closed' : 'aborted', error);
      return;
    }
    if (!this.res.headersSent && !this.res.destroyed) {
      const requestId = newRequestId();
      this.requestId = requestId;
      const body = errorBody(502, requestId);
      this.res.writeHead(502, errorHeaders(body, requestId));
      this.res.end(body);
    } else {
      this.res.destroy(error);
    }
    this.#end('upstream-failed', error);
  }

  #onDownstreamClose = (): void => {
    if (this.#ended) return;
    this.abort(new ClientClosedError());
  };

  #end(outcome: ExchangeOutcome, error: Error | undefined): void {
    this.#ended = true;
    this.#listener.exchangeEnded(this, outcome, error);
  }
}

function uncork(socket: Socket): void {
  socket.uncork();
}

function isEmpty(headers: IncomingHttpHeaders): boolean {
  for (const _ in headers) return false;
  return true;
}
