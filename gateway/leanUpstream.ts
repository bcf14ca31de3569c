// The gateway's HTTP/1.1 upstream for the common request: no body, no upgrade. It writes the
// request head on a pooled keep-alive `net` socket and parses the response with node's own llhttp
// binding (the parser node:http uses), speaking undici's dispatch-handler protocol so GatewayRequest
// and ProxyExchange run on it unchanged. Anything else (a body to stream, an upgrade, a header
// value the lean path will not vouch for) goes to an undici Pool for the same address.
// Why: per request, undici's client costs the gateway about a third of its CPU; this path, measured
// side by side in bench/proxy-engines.ts (`http+llhttp` against `undici-pool`), spends that much less.
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Clock } from '../lib/clock.ts';
import { headersOf, isReplayable, UpstreamClosedError } from '../lib/http/nodeDispatcher.ts';
import type { Dispatch } from '../lib/http/proxy.ts';

interface LlhttpParser {
  initialize(type: number, resource: object): void;
  execute(chunk: Buffer): number | Error;
  finish(): number | Error | undefined;
  [callback: number]: unknown;
}
interface LlhttpBinding {
  HTTPParser: {
    new (): LlhttpParser;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
  };
}
// The same binding node:http parses with; `_http_common` is node's own module for it.
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as LlhttpBinding;

/** llhttp: the headers are complete and the message has no body (a response to HEAD, a 1xx). */
const SKIP_BODY = 1;
/** A value that would end a header line early; node's parser refuses them from clients, so only the gateway's own additions could carry one. */
const UNSAFE_VALUE = /[\r\n\0]/;
/** How often idle connections past their keep-alive are closed. */
const IDLE_SWEEP_MS = 1000;
/** undici's margin under an upstream's advertised keep-alive, so a connection is not reused just as the upstream closes it. */
const KEEP_ALIVE_MARGIN_MS = 1000;

export class UpstreamConnectTimeoutError extends Error {
  // The code undici uses, which the gateway reads as "never connected" (retry elsewhere, eject).
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
}

export class UnexpectedUpgradeError extends Error {
  readonly code = 'UPSTREAM_UNEXPECTED_UPGRADE';
}

export interface LeanUpstreamOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** How long an idle connection is kept, unless the upstream's Keep-Alive header says less. */
  keepAliveTimeoutMs: number;
  clock: Clock;
  /** The dispatcher for every request the lean path does not take; made on first use. */
  fallback: () => Dispatcher;
}

/** The request head, or undefined when a header value could break it (undici then refuses the request itself). */
function requestHead(options: Dispatcher.DispatchOptions, authority: string): string | undefined {
  const headers = options.headers as readonly string[];
  let head = `${options.method} ${options.path} HTTP/1.1\r\n`;
  let hasHost = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (UNSAFE_VALUE.test(value) || UNSAFE_VALUE.test(name)) return undefined;
    if (name.length === 4 && name.toLowerCase() === 'host') hasHost = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) head += `host: ${authority}\r\n`;
  return `${head}connection: keep-alive\r\n\r\n`;
}

/** The idle time an upstream's `Keep-Alive: timeout=N` allows, less a margin; undefined without one. */
function advertisedKeepAliveMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /timeout=(\d+)/i.exec(value);
  return match === null ? undefined : Number(match[1]) * 1000 - KEEP_ALIVE_MARGIN_MS;
}

/** Whether a connection stays open after this response by its version and Connection header (RFC 9112 §9.3). */
function persistent(major: number, minor: number, connection: string | string[] | undefined): boolean {
  const tokens = String(connection ?? '').toLowerCase();
  if (tokens.includes('close')) return false;
  return major > 1 || (major === 1 && minor >= 1) || tokens.includes('keep-alive');
}

export class LeanHttp1Dispatcher implements Dispatch {
  readonly #options: LeanUpstreamOptions;
  readonly #authority: string;
  #fallback: Dispatcher | undefined;
  /** Most recently used last, taken from the end: warm connections stay warm, cold ones age out. */
  readonly #idle: UpstreamConnection[] = [];
  readonly #busy = new Set<UpstreamConnection>();
  #sweep: NodeJS.Timeout | undefined;
  #closing = false;
  #whenIdle: (() => void) | undefined;

  constructor(options: LeanUpstreamOptions) {
    this.#options = options;
    this.#authority = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const head =
      options.body == null && !options.upgrade && Array.isArray(options.headers) && !this.#closing
        ? requestHead(options, this.#authority)
        : undefined;
    if (head === undefined) return this.#fallbackDispatcher().dispatch(options, handler);
    const replayable = isReplayable(options.method, options.headers as string[], undefined);
    const exchange = new LeanExchange(handler, head, options.method === 'HEAD', replayable);
    handler.onRequestStart?.(exchange, {});
    if (exchange.reason !== null) exchange.fail(exchange.reason);
    else this.send(exchange, true);
    return true;
  }

  /** Puts the exchange on an idle connection (`reuse`) or a new one. */
  send(exchange: LeanExchange, reuse: boolean): void {
    const connection = (reuse ? this.#takeIdle() : undefined) ?? new UpstreamConnection(this, this.#options);
    this.#busy.add(connection);
    connection.send(exchange);
  }

  #takeIdle(): UpstreamConnection | undefined {
    const now = this.#options.clock.now();
    for (let connection = this.#idle.pop(); connection !== undefined; connection = this.#idle.pop()) {
      if (connection.reusableAt(now)) return connection;
      connection.destroy();
    }
    return undefined;
  }

  /** A connection finished its exchange and may take another. */
  released(connection: UpstreamConnection): void {
    this.#busy.delete(connection);
    if (this.#closing) connection.destroy();
    else {
      this.#idle.push(connection);
      this.#sweep ??= setInterval(this.#closeExpired, IDLE_SWEEP_MS).unref();
    }
    this.#checkIdle();
  }

  /** A connection closed, busy or idle. */
  closed(connection: UpstreamConnection): void {
    this.#busy.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
    this.#checkIdle();
  }

  #closeExpired = (): void => {
    const now = this.#options.clock.now();
    for (const connection of this.#idle.filter((c) => !c.reusableAt(now))) connection.destroy();
    if (this.#idle.length === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  };

  #checkIdle(): void {
    if (this.#closing && this.#busy.size === 0) this.#whenIdle?.();
  }

  #fallbackDispatcher(): Dispatcher {
    this.#fallback ??= this.#options.fallback();
    return this.#fallback;
  }

  /** Graceful: exchanges in progress finish, then every connection closes. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweep);
    for (const connection of this.#idle.splice(0)) connection.destroy();
    const drained =
      this.#busy.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#whenIdle = resolve));
    await Promise.all([drained, this.#fallback?.close()]);
  }

  /** Ends every connection now, failing the exchanges on them. */
  async destroy(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweep);
    for (const connection of [...this.#idle.splice(0), ...this.#busy]) connection.destroy();
    await this.#fallback?.destroy();
  }
}

/** One keep-alive connection to the upstream and its response parser. */
class UpstreamConnection {
  readonly #pool: LeanHttp1Dispatcher;
  readonly #socket: Socket;
  readonly #parser = new HTTPParser();
  readonly #keepAliveMs: number;
  readonly #clock: Clock;
  #exchange: LeanExchange | undefined;
  /** Set once a response has completed on it: a failure before any byte may then be a stale connection. */
  #reused = false;
  #idleSince = 0;
  #idleLimitMs: number;
  #error: Error | undefined;
  /** Header fields node's binding hands over before the head is complete (more than 32), or trailers after it. */
  #pendingFields: string[] = [];

  constructor(pool: LeanHttp1Dispatcher, options: LeanUpstreamOptions) {
    this.#pool = pool;
    this.#keepAliveMs = options.keepAliveTimeoutMs;
    this.#clock = options.clock;
    this.#idleLimitMs = options.keepAliveTimeoutMs;
    const socket = connect({ host: options.host, port: options.port, noDelay: true });
    this.#socket = socket;
    socket.setTimeout(options.connectTimeoutMs, () =>
      socket.destroy(new UpstreamConnectTimeoutError(`connect timeout after ${options.connectTimeoutMs}ms`)),
    );
    socket.once('connect', () => socket.setTimeout(0));
    socket.on('data', this.#onData);
    socket.on('error', (error: Error) => {
      this.#error ??= error;
    });
    socket.once('close', this.#onClose);
    const parser = this.#parser;
    parser.initialize(HTTPParser.RESPONSE, {});
    parser[HTTPParser.kOnHeaders] = (fields: string[]) => {
      this.#pendingFields.push(...fields);
    };
    parser[HTTPParser.kOnHeadersComplete] = this.#onHeadersComplete;
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.#exchange?.data(chunk);
    parser[HTTPParser.kOnMessageComplete] = this.#onMessageComplete;
  }

  send(exchange: LeanExchange): void {
    this.#exchange = exchange;
    exchange.connection = this;
    this.#socket.write(exchange.head, 'latin1');
  }

  reusableAt(now: number): boolean {
    return !this.#socket.destroyed && now - this.#idleSince < this.#idleLimitMs;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData = (chunk: Buffer): void => {
    // A handler that throws (say, on a response header node will not write) fails the exchange, as in undici, instead of the process.
    let result: number | Error;
    try {
      result = this.#parser.execute(chunk);
    } catch (error) {
      result = error as Error;
    }
    if (result instanceof Error) this.#socket.destroy(result);
  };

  #onHeadersComplete = (
    major: number,
    minor: number,
    fields: string[] | undefined,
    _method: number,
    _url: string,
    status: number,
    reason: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    const exchange = this.#exchange;
    const all = this.#pendingFields.length === 0 ? (fields ?? []) : [...this.#pendingFields, ...(fields ?? [])];
    this.#pendingFields = [];
    if (exchange === undefined) {
      this.#socket.destroy();
      return SKIP_BODY;
    }
    if (upgrade) {
      this.#socket.destroy(new UnexpectedUpgradeError(`the upstream answered ${status} with an upgrade`));
      return SKIP_BODY;
    }
    const headers = headersOf(all);
    if (status >= 200) {
      // llhttp judges keep-alive before it hears that a HEAD response has no body, so an unsized one looks close-delimited.
      exchange.keepAlive = exchange.isHead ? persistent(major, minor, headers.connection) : keepAlive;
      const advertised = advertisedKeepAliveMs(headers['keep-alive']);
      this.#idleLimitMs = advertised === undefined ? this.#keepAliveMs : Math.min(advertised, this.#keepAliveMs);
    }
    exchange.start(status, headers, reason);
    return status < 200 || exchange.isHead ? SKIP_BODY : 0;
  };

  #onMessageComplete = (): void => {
    const exchange = this.#exchange;
    // An interim response (1xx) is a message of its own; the final one follows on the same connection.
    if (exchange === undefined || !exchange.final) return;
    const trailers = headersOf(this.#pendingFields);
    this.#pendingFields = [];
    this.#exchange = undefined;
    this.#reused = true;
    if (exchange.keepAlive && exchange.reason === null) {
      this.#idleSince = this.#clock.now();
      // A handler that paused the response has no say over the next one.
      this.#socket.resume();
      this.#pool.released(this);
    } else {
      this.#socket.destroy();
    }
    exchange.end(trailers);
  };

  #onClose = (): void => {
    const exchange = this.#exchange;
    // A response without a length ends when the connection does.
    if (exchange !== undefined && this.#error === undefined) {
      try {
        const result = this.#parser.finish();
        if (result instanceof Error) this.#error = result;
      } catch (error) {
        this.#error = error as Error;
      }
    }
    this.#pool.closed(this);
    const unfinished = this.#exchange;
    this.#exchange = undefined;
    if (unfinished === undefined || unfinished.done) return;
    if (this.#reused && !unfinished.started && unfinished.replayable) {
      // The upstream closed a kept-alive connection as it was reused: the request may never have
      // reached the app, so it goes once more on a new connection.
      unfinished.replayable = false;
      this.#pool.send(unfinished, false);
      return;
    }
    unfinished.fail(this.#error ?? new UpstreamClosedError());
  };
}

/** One request on the lean path, and its controller for the handler. */
class LeanExchange implements Dispatcher.DispatchController {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly head: string;
  readonly isHead: boolean;
  replayable: boolean;
  connection: UpstreamConnection | undefined;
  /** A response head arrived (an interim one counts): the request reached the upstream. */
  started = false;
  /** The final (non-1xx) response has started. */
  final = false;
  keepAlive = false;
  #reason: Error | null = null;
  #paused = false;
  #done = false;

  constructor(handler: Dispatcher.DispatchHandler, head: string, isHead: boolean, replayable: boolean) {
    this.#handler = handler;
    this.head = head;
    this.isHead = isHead;
    this.replayable = replayable;
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
  /** The handler has heard how it ended. */
  get done(): boolean {
    return this.#done;
  }

  start(status: number, headers: Record<string, string | string[] | undefined>, reason: string): void {
    this.started = true;
    if (this.#done) return;
    if (status >= 200) this.final = true;
    // As undici: a 103 goes to the handler, other interim responses are the connection's business.
    else if (status !== 103) return;
    this.#handler.onResponseStart?.(this, status, headers, reason);
  }

  data(chunk: Buffer): void {
    if (!this.#done) this.#handler.onResponseData?.(this, chunk);
  }

  end(trailers: Record<string, string | string[] | undefined>): void {
    if (this.#done) return;
    this.#done = true;
    this.#handler.onResponseEnd?.(this, trailers);
  }

  abort(reason: Error): void {
    if (this.#done || this.#reason !== null) return;
    this.#reason = reason;
    // Before it was sent, dispatch reports it; after, the connection cannot be reused mid-exchange.
    if (this.connection === undefined) return;
    this.connection.destroy();
    this.fail(reason);
  }

  pause(): void {
    this.#paused = true;
    this.connection?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.connection?.resume();
  }

  fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#handler.onResponseError?.(this, this.#reason ?? error);
  }
}
