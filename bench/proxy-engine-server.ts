// A bare reverse proxy with one engine, for bench/proxy-engines.ts; kept apart so that each
// process loads only its own engine. Args: <undici-pool|http-agent> <upstream port>.
import { Agent, createServer, request, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../lib/http/headers.ts';

const [engine, upstreamPort] = [process.argv[2], Number(process.argv[3])];

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

const handler = engine === 'undici-pool' ? await undiciPool() : httpAgent();
const server = createServer({ keepAliveTimeout: 65_000 }, handler);
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port })));
