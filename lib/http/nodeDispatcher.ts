// An HTTP/1.1 dispatcher over node:http's own keep-alive Agent that speaks undici's
// dispatch-handler protocol, so ProxyExchange and forwardUpgrade run on it unchanged. queue-proxy
// runs in every pod and uses it instead of an undici Pool, which would cost it ≈13 MiB.
import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, InformationEvent } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { http } from './builtins.ts';
import type { Dispatch } from './proxy.ts';

export class UpstreamClosedError extends Error {
  readonly code = 'UPSTREAM_CLOSED';
  constructor() {
    super('the upstream closed the connection before the response ended');
  }
}

/** Response headers as undici hands them over: lower-cased names, repeated ones as arrays. */
export function headersOf(rawHeaders: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = [seen, value];
  }
  return headers;
}

/** Methods the upstream may see twice without harm (Go's Transport retries the same ones). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** A request that can be sent again as it was: no body, and idempotent by method or by an idempotency key. */
export function isReplayable(method: string, headers: readonly string[], body: unknown): boolean {
  if (body !== null && body !== undefined) return false;
  if (IDEMPOTENT_METHODS.has(method)) return true;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'idempotency-key' || name === 'x-idempotency-key') return true;
  }
  return false;
}

function hasHost(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i]!.length === 4 && headers[i]!.toLowerCase() === 'host') return true;
  return false;
}

export class NodeDispatcher implements Dispatch {
  readonly #agent: Agent;
  readonly #host: string;
  readonly #port: number;

  /** `maxConnections` 0 means no limit; requests beyond the limit wait in the Agent for a free connection. */
  constructor(host: string, port: number, maxConnections: number) {
    this.#host = host;
    this.#port = port;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: maxConnections > 0 ? maxConnections : Infinity });
  }

  /** Takes flat [name, value, …] request headers, the only form the proxy produces. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const headers = options.headers === undefined || options.headers === null ? [] : options.headers;
    if (!Array.isArray(headers))
      throw new TypeError('NodeDispatcher takes request headers as a flat [name, value, …] list');
    const flat = headers as string[];
    if (!hasHost(flat)) flat.push('host', `${this.#host}:${this.#port}`);
    // undici adds these for an upgrade; the proxy has dropped the client's as hop-by-hop.
    if (options.upgrade) flat.push('connection', 'upgrade', 'upgrade', String(options.upgrade));
    const request = () =>
      http.request({
        agent: this.#agent,
        host: this.#host,
        port: this.#port,
        method: options.method,
        path: options.path,
        headers: flat,
      });
    const exchange = new NodeExchange(
      handler,
      !options.upgrade && isReplayable(options.method, flat, options.body) ? request : undefined,
    );
    handler.onRequestStart?.(exchange, {});
    if (exchange.aborted) {
      exchange.fail(exchange.reason!);
      return true;
    }
    exchange.send(request(), options.body as Readable | null | undefined);
    return true;
  }

  /** Closes every connection, idle or not. */
  destroy(): void {
    this.#agent.destroy();
  }
}

/**
 * A keep-alive connection the upstream closed just as it was reused fails before any response:
 * the request may never have reached the app. Node reports it as ECONNRESET on a reused socket.
 */
const isStaleConnection = (req: ClientRequest, error: Error) =>
  req.reusedSocket &&
  ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || (error as NodeJS.ErrnoException).code === 'EPIPE');

/** One request on the Agent, and its controller for the handler. */
class NodeExchange implements Dispatcher.DispatchController {
  #handler: Dispatcher.DispatchHandler;
  /** Sends the request again, once, when it failed on a stale connection; undefined when it is not replayable. */
  #resend: (() => ClientRequest) | undefined;
  #req: ClientRequest | undefined;
  #body: Readable | undefined;
  #res: IncomingMessage | undefined;
  #reason: Error | null = null;
  #paused = false;
  #done = false;

  constructor(handler: Dispatcher.DispatchHandler, resend: (() => ClientRequest) | undefined) {
    this.#handler = handler;
    this.#resend = resend;
  }

  get aborted(): boolean {
    return this.#reason !== null;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }

  send(req: ClientRequest, body: Readable | null | undefined): void {
    this.#req = req;
    req.on('response', this.#onResponse);
    req.on('information', this.#onInformation);
    req.on('upgrade', this.#onUpgrade);
    req.on('error', this.#onRequestError);
    if (body === null || body === undefined) {
      req.end();
      return;
    }
    this.#body = body;
    body.on('error', this.fail);
    body.pipe(req);
  }

  abort(reason: Error): void {
    if (this.#done || this.#reason !== null) return;
    this.#reason = reason;
    if (this.#req === undefined) return; // before send: dispatch reports it.
    this.fail(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#res?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#res?.resume();
  }

  #onRequestError = (error: Error): void => {
    const resend = this.#resend;
    if (
      resend !== undefined &&
      !this.#done &&
      this.#reason === null &&
      this.#res === undefined &&
      isStaleConnection(this.#req!, error)
    ) {
      this.#resend = undefined;
      this.#req!.destroy();
      this.send(resend(), undefined);
      return;
    }
    this.fail(error);
  };

  /** Ends the exchange with an error, once; the connection is not reused. */
  fail = (error: Error): void => {
    if (this.#done) return;
    this.#done = true;
    if (this.#body !== undefined && this.#req !== undefined) this.#body.unpipe(this.#req);
    this.#req?.destroy();
    this.#res?.destroy();
    this.#handler.onResponseError?.(this, this.#reason ?? error);
  };

  #onResponse = (res: IncomingMessage): void => {
    if (this.#done) {
      res.destroy();
      return;
    }
    this.#res = res;
    const handler = this.#handler;
    handler.onResponseStart?.(this, res.statusCode ?? 0, headersOf(res.rawHeaders), res.statusMessage);
    if (this.#done) return;
    res.on('data', (chunk: Buffer) => {
      if (!this.#done) handler.onResponseData?.(this, chunk);
    });
    res.on('end', () => {
      if (this.#done) return;
      this.#done = true;
      handler.onResponseEnd?.(this, headersOf(res.rawTrailers));
    });
    res.on('error', this.fail);
    res.on('close', () => {
      if (!res.complete) this.fail(new UpstreamClosedError());
    });
    if (this.#paused) res.pause();
  };

  /** 103 Early Hints, handed on as undici does; node:http has already skipped any 100. */
  #onInformation = (info: InformationEvent): void => {
    if (this.#done || info.statusCode !== 103) return;
    this.#handler.onResponseStart?.(this, info.statusCode, headersOf(info.rawHeaders), info.statusMessage);
  };

  #onUpgrade = (res: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.#done) {
      socket.destroy();
      return;
    }
    this.#done = true;
    if (head.length > 0) socket.unshift(head);
    this.#handler.onRequestUpgrade?.(this, res.statusCode ?? 101, headersOf(res.rawHeaders), socket);
  };
}
