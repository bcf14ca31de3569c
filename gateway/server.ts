// The gateway's sockets: an external and an internal listener (HTTP/1.1 and h2c on each port,
// through lib/http's HttpListener), the external TLS listener (HTTP/1.1 and h2 by ALPN, the
// certificate by SNI) and an admin port with /healthz, /readyz and /metrics.
import type { Server } from 'node:http';
import { http } from '../lib/http/builtins.ts';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { DownstreamRequest, DownstreamResponse } from '../lib/http/proxy.ts';
import { HttpListener, type ConnectionLimits, type TlsOptions } from '../lib/http/server.ts';
import type { GatewayProxy } from './proxy.ts';
import { HopHeaders } from '../lib/hop.ts';
import type { Listener } from './routing/index.ts';

export interface ListenerExtras {
  /** Terminate TLS on this port. */
  tls?: TlsOptions;
  /** Where a plain-HTTP request is redirected to (301) instead of being served, if anywhere. */
  httpsRedirect?: (host: string | undefined, url: string) => string | undefined;
}

export class GatewayListener {
  readonly #http: HttpListener;

  constructor(listener: Listener, proxy: GatewayProxy, limits: ConnectionLimits, extras: ListenerExtras = {}) {
    this.#http = new HttpListener({
      onRequest: withRedirect(proxy.requestHandler(listener), extras.httpsRedirect),
      onUpgrade: proxy.upgradeHandler(listener),
      limits,
      ...(extras.tls ? { tls: extras.tls } : {}),
    });
  }

  listen(port: number, host: string): Promise<number> {
    return this.#http.listen(port, host);
  }

  closeConnectionsAfterResponses(): void {
    this.#http.closeConnectionsAfterResponses();
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

/** More JSON answers on the admin port, by path: each takes the query and returns the body, or an Error for a 400. */
export type AdminJson = Record<string, (query: URLSearchParams) => unknown>;

/** Liveness, readiness and Prometheus metrics, apart from the traffic ports. */
export function createAdminServer(state: AdminState, registry: Registry, json: AdminJson = {}): Server {
  return http.createServer((req, res) => {
    const [path = '', query] = req.url?.split('?') ?? [];
    const answer = Object.hasOwn(json, path) ? json[path]!(new URLSearchParams(query)) : undefined;
    if (answer instanceof Error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(answer.message);
      return;
    }
    if (answer !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      return;
    }
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
