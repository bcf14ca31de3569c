// One listening port for HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c), as Knative's
// servers accept both: the first bytes of a connection pick the protocol, so the cost is per
// connection, not per request. With `tls` the port terminates TLS instead and ALPN picks the
// protocol (h2 or http/1.1); either way the same two servers, handlers and limits serve it.
import type { IncomingMessage, RequestListener, Server as Http1Server, ServerResponse } from 'node:http';
import type {
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  ServerHttp2Session,
  ServerHttp2Stream,
} from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, Server as TlsServer, TLSSocket } from 'node:tls';
import { http, loadHttp2, loadTls } from './builtins.ts';
import type { DownstreamRequest, DownstreamResponse } from './proxy.ts';

export interface HttpListenerOptions {
  onRequest(req: DownstreamRequest, res: DownstreamResponse): void;
  /** HTTP/1.1 upgrade requests; without a handler they are refused by closing the socket. */
  onUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Accept h2c with prior knowledge besides HTTP/1.1 (default true). */
  h2c?: boolean;
  /** What bounds each phase of a connection before its requests reach the handlers. */
  limits: ConnectionLimits;
  /** Terminate TLS; h2c is then off and ALPN offers h2 and http/1.1. */
  tls?: TlsOptions;
}

/**
 * The same bounds for HTTP/1.1, h2c and h2 over TLS, so no phase of a connection is open-ended:
 * the first bytes (or the TLS handshake) and a request's headers within `headersTimeoutMs`, its
 * body within `requestReceiveTimeoutMs`, and no request at all for `keepAliveTimeoutMs` closes the
 * connection or HTTP/2 session. Once a request is in, the proxies' request timeouts take over;
 * upgraded connections have their own (upgrade.ts).
 */
export interface ConnectionLimits {
  /** Request line plus headers (HTTP/1.1), or the header list as HTTP/2 counts it; larger requests get 431. */
  maxHeaderBytes: number;
  /** A client must finish sending a request's headers within this long (HTTP/1.1: 408). */
  headersTimeoutMs: number;
  /** A client must finish sending a whole request, body included, within this long; 0: off. */
  requestReceiveTimeoutMs: number;
  /** How long a connection or HTTP/2 session with no request in progress stays open. */
  keepAliveTimeoutMs: number;
}

/**
 * Knative's servers read headers for at most a minute (ReadHeaderTimeout); 65s of keep-alive
 * outlasts common load balancers' idle timeouts; 16 KiB of headers is node's own limit. The
 * request body has no limit of its own: the revision's timeouts bound it, as upstream.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxHeaderBytes: 16_384,
  headersTimeoutMs: 60_000,
  requestReceiveTimeoutMs: 0,
  keepAliveTimeoutMs: 65_000,
};

/** What each bound is called where it is configured (a flag, an environment variable). */
export type ConnectionLimitNames = Record<keyof ConnectionLimits, string>;

const FIELD_NAMES: ConnectionLimitNames = {
  maxHeaderBytes: 'maxHeaderBytes',
  headersTimeoutMs: 'headersTimeoutMs',
  requestReceiveTimeoutMs: 'requestReceiveTimeoutMs',
  keepAliveTimeoutMs: 'keepAliveTimeoutMs',
};

/** What is wrong with limits, naming the setting and the rule, or undefined when nothing is. */
export function connectionLimitsProblem(
  limits: ConnectionLimits,
  names: ConnectionLimitNames = FIELD_NAMES,
): string | undefined {
  const { maxHeaderBytes, headersTimeoutMs, keepAliveTimeoutMs, requestReceiveTimeoutMs } = limits;
  if (!Number.isInteger(maxHeaderBytes) || maxHeaderBytes < 1024)
    return `${names.maxHeaderBytes}: ${maxHeaderBytes} must be a whole number of at least 1024`;
  if (!(headersTimeoutMs > 0)) return `${names.headersTimeoutMs}: must be above 0`;
  if (!(keepAliveTimeoutMs > 0)) return `${names.keepAliveTimeoutMs}: must be above 0`;
  if (!(requestReceiveTimeoutMs >= 0)) return `${names.requestReceiveTimeoutMs}: must be 0 (off) or above`;
  // Node refuses a request timeout below the headers timeout, which it would cut short anyway.
  if (requestReceiveTimeoutMs > 0 && requestReceiveTimeoutMs < headersTimeoutMs)
    return `${names.requestReceiveTimeoutMs}: must be 0 (off) or at least ${names.headersTimeoutMs} (${headersTimeoutMs}ms)`;
  return undefined;
}

export interface TlsOptions {
  /**
   * The certificate for a handshake's server name, read per handshake so a new one applies to the
   * next handshake; undefined (or no server name) fails the handshake, other connections unaffected.
   */
  contextFor(serverName: string): SecureContext | undefined;
}

/** How often node checks HTTP/1.1 connections against headersTimeout and requestTimeout (its default: 30s). */
const CONNECTION_CHECK_MS = 250;
/** A session told to close (GOAWAY) that still has not closed after this long is destroyed. */
const SESSION_CLOSE_GRACE_MS = 1000;

// "PRI * HTTP/2.0": no HTTP/1 method starts with these bytes.
function isHttp2Preface(chunk: Buffer): boolean {
  return chunk[0] === 0x50 && chunk[1] === 0x52 && chunk[2] === 0x49;
}

/** Node's own answer to a request it cannot parse. */
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/**
 * An HTTP/0.9 request line (`GET /` and a line end, no version), which node's parser would wait
 * on until the headers timeout: a proxy of HTTP/1.1 and HTTP/2 answers it 400 at once. A first
 * line that has not fully arrived is left to the parser and its timeouts.
 */
export function isHttp09RequestLine(chunk: Buffer): boolean {
  // Empty lines before the request line are allowed (RFC 9112 §2.2).
  let start = 0;
  while (start < chunk.length && (chunk[start] === 0x0d || chunk[start] === 0x0a)) start++;
  const end = chunk.indexOf(0x0a, start);
  if (end === -1) return false;
  const line = chunk.toString('latin1', start, end).trimEnd();
  return !/ HTTP\/\d\.\d$/.test(line);
}

export class HttpListener {
  readonly http1: Http1Server;
  #http2: Http2Server | undefined;
  #onRequest: HttpListenerOptions['onRequest'];
  #limits: ConnectionLimits;
  #front: NetServer | Http1Server | TlsServer;
  #sessions = new Set<ServerHttp2Session>();
  #closingConnections = false;

  constructor(options: HttpListenerOptions) {
    const limits = options.limits;
    const problem = connectionLimitsProblem(limits);
    if (problem !== undefined) throw new Error(`connection limits: ${problem}`);
    this.#onRequest = options.onRequest;
    this.#limits = limits;
    this.http1 = http.createServer(
      {
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestReceiveTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        connectionsCheckingInterval: CONNECTION_CHECK_MS,
        noDelay: true,
      },
      (req: IncomingMessage, res: ServerResponse) => {
        // Node then ends the connection after this response, however the handler writes its head.
        if (this.#closingConnections) res.setHeader('connection', 'close');
        (options.onRequest as RequestListener)(req, res);
      },
    );
    const onUpgrade = options.onUpgrade;
    this.http1.on('upgrade', onUpgrade ?? ((_req: IncomingMessage, socket: Duplex) => socket.destroy()));
    if (options.tls !== undefined) {
      this.#front = this.#tlsFront(options.tls);
      return;
    }
    if (options.h2c === false) {
      this.#front = this.http1;
      return;
    }
    const http1 = this.http1;
    this.#front = createNetServer({ noDelay: true }, (socket: Socket) => {
      // Until it speaks, a connection belongs to neither server and no server timeout guards it.
      socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        socket.setTimeout(0);
        socket.pause();
        socket.unshift(chunk);
        if (isHttp2Preface(chunk)) {
          this.#http2Server().emit('connection', socket);
        } else if (isHttp09RequestLine(chunk)) {
          socket.end(BAD_REQUEST);
        } else {
          http1.emit('connection', socket);
          socket.resume();
        }
      });
      socket.on('error', () => socket.destroy());
    });
  }

  #tlsFront(options: TlsOptions): TlsServer {
    const { contextFor } = options;
    // No certificate of its own: a handshake whose name has none fails with a handshake alert.
    const front = loadTls().createServer({
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: this.#limits.headersTimeoutMs,
      SNICallback: (serverName, done) => done(null, contextFor(serverName)),
    });
    front.on('secureConnection', (socket: TLSSocket) => {
      socket.on('error', () => socket.destroy());
      if (socket.alpnProtocol === 'h2') this.#http2Server().emit('connection', socket);
      else this.http1.emit('connection', socket);
    });
    // A failed handshake (no certificate for the name, a client giving up) ends that connection alone.
    front.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
    return front;
  }

  /** The HTTP/2 server (h2c, or h2 over TLS), once a client has spoken HTTP/2. */
  get http2(): Http2Server | undefined {
    return this.#http2;
  }

  // Created on the first HTTP/2 connection: most listeners only ever see HTTP/1.1, and node:http2 costs memory.
  #http2Server(): Http2Server {
    if (this.#http2 !== undefined) return this.#http2;
    const limits = this.#limits;
    const serve = this.#onRequest as (req: Http2ServerRequest, res: Http2ServerResponse) => void;
    // Advertised to the client; enforced per request too, as a client may send before it
    // acknowledged the setting, or never acknowledge it.
    const http2 = loadHttp2().createServer(
      { settings: { maxHeaderListSize: limits.maxHeaderBytes } },
      (req: Http2ServerRequest, res: Http2ServerResponse) => {
        if (headerListSize(req.rawHeaders) <= limits.maxHeaderBytes) serve(req, res);
        else res.writeHead(431, { 'content-length': 0 }).end();
      },
    );
    http2.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      boundSession(session, limits);
      if (this.#closingConnections) session.close();
    });
    this.#http2 = http2;
    return http2;
  }

  /** Listens and resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#front.once('error', reject);
      this.#front.listen(port, host, () => {
        this.#front.off('error', reject);
        // Node arms the HTTP/1.1 server's headersTimeout/requestTimeout checks when it emits
        // 'listening', which it never does behind the byte-sniffing or TLS front.
        if (this.#front !== this.http1) this.http1.emit('listening');
        resolve((this.#front.address() as AddressInfo).port);
      });
    });
  }

  /**
   * A drain's quiet period: requests are still served, but each HTTP/1.1 response closes its
   * connection and HTTP/2 sessions get GOAWAY. Kept-alive clients then reconnect through their load
   * balancer, which by now sends them to a replica that is not going away.
   */
  closeConnectionsAfterResponses(): void {
    this.#closingConnections = true;
    for (const session of this.#sessions) session.close();
  }

  /** Stops accepting connections and closes idle ones; requests in progress continue. */
  stopAccepting(): void {
    this.#front.close();
    this.http1.closeIdleConnections();
    for (const session of this.#sessions) session.close();
  }

  /** Ends every remaining connection at once. */
  closeAll(): void {
    // Stops its connection checks, which go on bounding slow clients while requests drain; it
    // never listened itself, so the callback's error is expected.
    if (this.#front !== this.http1) this.http1.close(() => {});
    this.http1.closeAllConnections();
    for (const session of this.#sessions) session.destroy();
  }
}

/** A header list's size as HTTP/2 counts it (RFC 9113 §6.5.2): names, values and 32 octets per field. */
function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  // rawHeaders alternates names and values: 16 octets of overhead on each makes 32 per field.
  for (const field of rawHeaders) size += field.length + 16;
  return size;
}

/**
 * HTTP/2 sessions get the bounds node gives HTTP/1.1 connections only: while no stream is open
 * (before the first request, between requests, or with a HEADERS block never finished, which
 * opens no stream) the session is closed after headersTimeoutMs at first and keepAliveTimeoutMs
 * later; a stream must deliver its body within requestReceiveTimeoutMs.
 */
function boundSession(session: ServerHttp2Session, limits: ConnectionLimits): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const expire = () => {
    idle = undefined;
    session.close();
    setTimeout(() => session.destroy(), SESSION_CLOSE_GRACE_MS).unref();
  };
  idle = setTimeout(expire, limits.headersTimeoutMs);
  session.on('stream', (stream: ServerHttp2Stream) => {
    if (open++ === 0) clearTimeout(idle);
    stream.once('close', () => {
      if (--open === 0 && !session.closed && !session.destroyed) idle = setTimeout(expire, limits.keepAliveTimeoutMs);
    });
    if (limits.requestReceiveTimeoutMs > 0 && !stream.endAfterHeaders)
      boundReceive(stream, limits.requestReceiveTimeoutMs);
  });
  session.once('close', () => clearTimeout(idle));
}

// Reset rather than answered 408: the handler already holds the stream's response.
function boundReceive(stream: ServerHttp2Stream, ms: number): void {
  const timer = setTimeout(() => stream.close(loadHttp2().constants.NGHTTP2_CANCEL), ms);
  const done = () => clearTimeout(timer);
  stream.once('end', done);
  stream.once('close', done);
}
