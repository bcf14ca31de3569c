// One listening port for HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c), as Knative's
// servers accept both: the first bytes of a connection pick the protocol, so the cost is per
// connection, not per request. With `tls` the port terminates TLS instead and ALPN picks the
// protocol (h2 or http/1.1); either way the same two servers, handlers and limits serve it.
import type { IncomingMessage, RequestListener, Server as Http1Server } from 'node:http';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
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
  /** How long an idle keep-alive connection stays open (default 65s, above common LB idle timeouts). */
  keepAliveTimeoutMs?: number;
  /** Terminate TLS; h2c is then off and ALPN offers h2 and http/1.1. */
  tls?: TlsOptions;
}

export interface TlsOptions {
  /**
   * The certificate for a handshake's server name, read per handshake so a new one applies to the
   * next handshake; undefined (or no server name) fails the handshake, other connections unaffected.
   */
  contextFor(serverName: string): SecureContext | undefined;
}

/** Node's own default headersTimeout. */
const FIRST_BYTES_TIMEOUT_MS = 60_000;

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
  #front: NetServer | Http1Server | TlsServer;
  #sessions = new Set<ServerHttp2Session>();

  constructor(options: HttpListenerOptions) {
    this.#onRequest = options.onRequest;
    this.http1 = http.createServer(
      {
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000,
        requestTimeout: 0,
        noDelay: true,
      },
      options.onRequest as RequestListener,
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
      socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
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
      handshakeTimeout: FIRST_BYTES_TIMEOUT_MS,
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
    const http2 = loadHttp2().createServer(
      this.#onRequest as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
    );
    http2.on('session', (session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
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
        resolve((this.#front.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting connections and closes idle ones; requests in progress continue. */
  stopAccepting(): void {
    this.#front.close();
    this.http1.closeIdleConnections();
    for (const session of this.#sessions) session.close();
  }

  /** Ends every remaining connection at once. */
  closeAll(): void {
    this.http1.closeAllConnections();
    for (const session of this.#sessions) session.destroy();
  }
}
