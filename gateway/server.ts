// The gateway's sockets: an external and an internal listener (HTTP/1.1 and h2c on each port,
// through lib/http's HttpListener) and an admin port with /healthz, /readyz and /metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { HttpListener } from '../lib/http/server.ts';
import type { GatewayProxy } from './proxy.ts';
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

export class GatewayListener {
  readonly #http: HttpListener;

  constructor(listener: Listener, proxy: GatewayProxy, limits: ClientLimits) {
    this.#http = new HttpListener({
      onRequest: proxy.requestHandler(listener),
      onUpgrade: proxy.upgradeHandler(listener),
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
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

export interface AdminState {
  /** Ready: the first routing table is live and the gateway is not draining. */
  ready(): boolean;
}

/** More JSON answers on the admin port, by path: each takes the query and returns the body, or an Error for a 400. */
export type AdminJson = Record<string, (query: URLSearchParams) => unknown>;

/** Liveness, readiness and Prometheus metrics, apart from the traffic ports. */
export function createAdminServer(state: AdminState, registry: Registry, json: AdminJson = {}): Server {
  return createServer((req, res) => {
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
