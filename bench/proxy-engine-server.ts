// A bare reverse proxy with one engine, for bench/proxy-engines.ts; kept apart so that each
// process loads only its own engine. Args: <engine> <upstream port>.
//   undici-pool     node:http server, lib/http's ProxyExchange on an undici Pool (the gateway today)
//   http-agent      node:http server, http.request on a keep-alive http.Agent (what http-proxy does)
//   http+llhttp     node:http server, upstream on pooled `net` sockets parsed by node's llhttp binding
//   net+llhttp      both sides on `net` sockets parsed by llhttp: the floor for a proxy in Node
// The two llhttp engines handle only what the benchmark sends (bodiless GETs, sized or chunked
// responses, keep-alive): they measure what a lean path could save, they are not proxies to ship.
import { Agent, createServer, request, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../lib/http/headers.ts';

const [engine, upstreamPort] = [process.argv[2], Number(process.argv[3])];

interface LlhttpParser {
  initialize(type: number, resource: object): void;
  execute(chunk: Buffer): number | Error;
  [callback: number]: (...args: never[]) => void;
}
interface LlhttpModule {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
  };
  methods: string[];
}
// Node's own llhttp binding, as node:http uses it; not a public API, which is one reason to measure before relying on it.
const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common') as LlhttpModule;

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']);

interface ResponseSink {
  head(status: number, reason: string, headers: string[]): void;
  body(chunk: Buffer): void;
  end(): void;
}

/** One keep-alive upstream connection; a response's callbacks go to the sink of the request in flight. */
class UpstreamConnection {
  readonly socket: Socket;
  sink: ResponseSink | undefined;
  readonly #parser = new HTTPParser();
  readonly idle: UpstreamConnection[];
  constructor(port: number, idle: UpstreamConnection[]) {
    this.idle = idle;
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.#parser.initialize(HTTPParser.RESPONSE, {});
    this.#parser[HTTPParser.kOnHeadersComplete] = ((
      _major: number,
      _minor: number,
      headers: string[],
      _method: number,
      _url: string,
      status: number,
      reason: string,
    ) => this.sink?.head(status, reason, headers)) as never;
    this.#parser[HTTPParser.kOnBody] = ((chunk: Buffer) => this.sink?.body(chunk)) as never;
    this.#parser[HTTPParser.kOnMessageComplete] = (() => {
      const sink = this.sink;
      this.sink = undefined;
      this.idle.push(this);
      sink?.end();
    }) as never;
    this.socket.on('data', (chunk: Buffer) => this.#parser.execute(chunk));
    this.socket.on('error', () => this.socket.destroy());
  }
}

class UpstreamPool {
  readonly #idle: UpstreamConnection[] = [];
  readonly port: number;
  constructor(port: number) {
    this.port = port;
  }
  send(head: string, sink: ResponseSink): void {
    const connection = this.#idle.pop() ?? new UpstreamConnection(this.port, this.#idle);
    connection.sink = sink;
    connection.socket.write(head, 'latin1');
  }
}

function requestHead(method: string, url: string, rawHeaders: readonly string[], client: string): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!HOP.has(rawHeaders[i]!.toLowerCase())) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  }
  return `${head}x-forwarded-for: ${client}\r\nx-forwarded-proto: http\r\n\r\n`;
}

function httpLlhttp(): RequestListener {
  const pool = new UpstreamPool(upstreamPort);
  return (req, res) => {
    pool.send(requestHead(req.method!, req.url!, req.rawHeaders, req.socket.remoteAddress ?? ''), {
      head(status, _reason, headers) {
        const out: Record<string, string> = {};
        for (let i = 0; i < headers.length; i += 2) {
          const name = headers[i]!.toLowerCase();
          if (!HOP.has(name)) out[name] = headers[i + 1]!;
        }
        res.writeHead(status, out);
      },
      body: (chunk) => res.write(chunk),
      end: () => res.end(),
    });
  };
}

/** Keep-alive client connection: requests parsed by llhttp, answered in order, one at a time. */
function serveNetLlhttp(socket: Socket, pool: UpstreamPool): void {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {});
  socket.setNoDelay(true);
  parser[HTTPParser.kOnHeadersComplete] = ((
    _major: number,
    _minor: number,
    headers: string[],
    method: number,
    url: string,
  ) => {
    pool.send(requestHead(methods[method]!, url, headers, socket.remoteAddress ?? ''), {
      head(status, reason, upstreamHeaders) {
        let head = `HTTP/1.1 ${status} ${reason}\r\n`;
        let sized = false;
        for (let i = 0; i < upstreamHeaders.length; i += 2) {
          const name = upstreamHeaders[i]!.toLowerCase();
          if (HOP.has(name)) continue;
          if (name === 'content-length') sized = true;
          head += `${upstreamHeaders[i]}: ${upstreamHeaders[i + 1]}\r\n`;
        }
        socket.cork();
        socket.write(`${head}${sized ? '' : 'transfer-encoding: chunked\r\n'}\r\n`, 'latin1');
        this.chunked = !sized;
      },
      chunked: false,
      body(chunk) {
        if (this.chunked) socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        if (this.chunked) socket.write('\r\n', 'latin1');
      },
      end() {
        if (this.chunked) socket.write('0\r\n\r\n', 'latin1');
        socket.uncork();
      },
    } as ResponseSink & { chunked: boolean });
  }) as never;
  socket.on('data', (chunk: Buffer) => {
    if (parser.execute(chunk) instanceof Error) socket.destroy();
  });
  socket.on('error', () => socket.destroy());
}

async function undiciPool(): Promise<RequestListener> {
  const { Pool } = await import('undici');
  const { ProxyExchange } = await import('../lib/http/proxy.ts');
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { headersTimeout: 0, bodyTimeout: 0 });
  const listener = { exchangeEnded() {} };
  return (req, res) => new ProxyExchange(req, res, listener).start(pool);
}

function httpAgent(): RequestListener {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  return (req, res) => {
    const upstream = request(
      {
        host: '127.0.0.1',
        port: upstreamPort,
        method: req.method,
        path: req.url,
        agent,
        headers: upstreamRequestHeaders(req.rawHeaders, req.headers),
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, downstreamResponseHeaders(upstreamRes.headers));
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
}

const announce = (address: AddressInfo | string | null) =>
  console.log(JSON.stringify({ listening: (address as AddressInfo).port }));

if (engine === 'net+llhttp') {
  const pool = new UpstreamPool(upstreamPort);
  const server = createNetServer({ noDelay: true }, (socket) => serveNetLlhttp(socket, pool));
  server.listen(0, '127.0.0.1', () => announce(server.address()));
} else {
  const handler = engine === 'undici-pool' ? await undiciPool() : engine === 'http+llhttp' ? httpLlhttp() : httpAgent();
  const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, handler);
  server.listen(0, '127.0.0.1', () => announce(server.address()));
}
