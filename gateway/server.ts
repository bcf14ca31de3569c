// The gateway's sockets: an external and an internal listener (HTTP/1.1 and h2c on each port,
// through lib/http's HttpListener), the external TLS listener (HTTP/1.1 and h2 by ALPN, the
// certificate by SNI) and an admin port with /healthz, /readyz and /metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { DownstreamRequest, DownstreamResponse } from '../lib/http/proxy.ts';
import { HttpListener, type TlsOptions } from '../lib/http/server.ts';
import type { GatewayProxy } from './proxy.ts';
import { HopHeaders } from '../lib/hop.ts';
import type { Listener } from './routing/index.ts';

export interface ClientLimits {
  /** Request line plus headers; larger requests get 431 (node's maxHeaderSize). */
  maxHeaderBytes: number;
  /** A client must finish sending its headers within this long (408 otherwise). */
  headersTimeoutMs: number;
  /** A client must finish sending its whole request, body included, within this long. */
  requestReceiveTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** How often node checks connections against headersTimeout and requestReceiveTimeout. */
const CONNECTION_CHECK_MS = 250;

export interface ListenerExtras {
  /** Terminate TLS on this port. */
  tls?: TlsOptions;
  /** Where a plain-HTTP request is redirected to (301) instead of being served, if anywhere. */
  httpsRedirect?: (host: string | undefined, url: string) => string | undefined;
}

export class GatewayListener {
  readonly #http: HttpListener;

  constructor(listener: Listener, proxy: GatewayProxy, limits: ClientLimits, extras: ListenerExtras = {}) {
    this.#http = new HttpListener({
      onRequest: withRedirect(proxy.requestHandler(listener), extras.httpsRedirect),
      onUpgrade: proxy.upgradeHandler(listener),
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
      ...(extras.tls ? { tls: extras.tls } : {}),
    });
    // HttpListener's HTTP/1.1 server takes no limits of its own; node reads these per connection.
    const http1 = this.#http.http1 as Server & { maxHeaderSize: number; connectionsCheckingInterval: number };
    http1.maxHeaderSize = limits.maxHeaderBytes;
    http1.headersTimeout = limits.headersTimeoutMs;
    http1.requestTimeout = limits.requestReceiveTimeoutMs;
    http1.connectionsCheckingInterval = CONNECTION_CHECK_MS;
  }

  async listen(port: number, host: string): Promise<number> {
    const bound = await this.#http.listen(port, host);
    // Node arms headersTimeout/requestTimeout checks when its server emits 'listening', which
    // HttpListener's inner HTTP/1.1 server never does (the byte-sniffing front listens instead).
    this.#http.http1.emit('listening');
    return bound;
  }

  stopAccepting(): void {
    this.#http.stopAccepting();
  }

  closeAll(): void {
    this.#http.closeAll();
  }
}

type RequestHandler = (req: DownstreamRequest, res: DownstreamResponse) => void;

function withRedirect(serve: RequestHandler, redirect: ListenerExtras['httpsRedirect']): RequestHandler {
  if (redirect === undefined) return serve;
  return (req, res) => {
    const host = req.headers.host ?? req.headers[':authority'];
    // Knative's readiness probes are answered over plain HTTP whatever the Ingress's httpOption.
    const location =
      req.headers[HopHeaders.networkProbe] === undefined
        ? redirect(typeof host === 'string' ? host : undefined, req.url ?? '/')
        : undefined;
    if (location === undefined) {
      serve(req, res);
      return;
    }
    res.writeHead(301, { location, 'content-length': 0 });
    res.end();
  };
}

export interface AdminState {
  /** Ready: the first routing table is live and the gateway is not draining. */
  ready(): boolean;
}

/** Liveness, readiness and Prometheus metrics, apart from the traffic ports. */
export function createAdminServer(state: AdminState, registry: Registry): Server {
  return createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const ready = state.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready' : 'not ready');
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    } else {
      res.writeHead(404).end();
    }
  });
}

export function listenAdmin(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
