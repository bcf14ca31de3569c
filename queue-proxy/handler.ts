// The serving port's request pipeline (S:pkg/queue/sharedmain/handlers.go), outermost first:
// probes and drain → timeouts → Forwarded shim → stats and breaker → proxy to the user container.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { RequestTimeouts } from '../lib/http/timeouts.ts';
import { forwardUpgrade, holdUpgrade } from '../lib/http/upgrade.ts';
import { errorBody, newRequestId, rawErrorResponse, REQUEST_ID_HEADER, writeError } from '../lib/http/errors.ts';
import { normalizeRequestTarget } from '../lib/http/requestTarget.ts';
import { HeldRequest } from '../lib/http/heldRequest.ts';
import { InFlight } from '../lib/http/inFlight.ts';
import { ProxyExchange, type Dispatch, type DownstreamRequest, type DownstreamResponse } from '../lib/http/proxy.ts';
import type { Breaker } from '../lib/breaker.ts';
import { HopHeaders, PROBE_USER_AGENTS, PROXIED_BY_ACTIVATOR, ProbeValues } from '../lib/hop.ts';
import type { Drainer } from './drain.ts';
import type { Readiness } from './readiness.ts';
import type { RequestStats } from '../lib/stats/requestStats.ts';
import type { UserMetrics } from './userMetrics.ts';

/** Removed before the user container sees the request, as Knative's activator.RevisionHeaders. */
const DROPPED_HEADERS: ReadonlySet<string> = new Set([
  HopHeaders.revision,
  HopHeaders.revisionNamespace,
  HopHeaders.originalHost,
]);
const DEFAULT_FORWARD = { dropRequestHeaders: DROPPED_HEADERS };
const HEALTH_CHECK_AGENTS = Object.values(PROBE_USER_AGENTS);

export interface PipelineDeps {
  upstream: Dispatch;
  /** For requests that arrive over HTTP/2: the user container is then spoken to in h2c too. */
  h2cUpstream: Dispatch;
  breaker: Breaker | undefined;
  stats: RequestStats;
  drainer: Drainer;
  readiness: Readiness;
  userMetrics: UserMetrics;
  timeouts: RequestTimeouts;
  /** A websocket tunnel with no byte either way for this long is closed; 0: off. */
  upgradeIdleTimeoutMs: number;
  clock: Clock;
  log: Logger;
}

function isHealthCheck(req: DownstreamRequest): boolean {
  const agent = req.headers['user-agent'];
  if (agent !== undefined) for (const prefix of HEALTH_CHECK_AGENTS) if (agent.startsWith(prefix)) return true;
  const headers = req.headers;
  return headers[HopHeaders.kubeletProbe] !== undefined || headers[HopHeaders.networkProbe] === ProbeValues.queue;
}

/**
 * Whether the activator sent the request, so the autoscaler can tell its share apart. The header
 * is believed because only the activator and the gateway reach this port, and the gateway, the
 * trust boundary, removes a client's copy; a hop that could forge it could send the load anyway.
 */
function isProxied(req: DownstreamRequest): boolean {
  return req.headers[HopHeaders.proxyRequest] === PROXIED_BY_ACTIVATOR;
}

function reply(res: DownstreamResponse, status: number, body: string, headers?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/**
 * Builds RFC 7239 Forwarded from X-Forwarded-* when the client sent none
 * (S:pkg/queue/forwarded_shim.go), so apps can read one header whatever the ingress.
 */
function forwardedFromLegacy(req: DownstreamRequest): string | undefined {
  const headers = req.headers;
  if (headers.forwarded !== undefined) return undefined;
  const forwardedFor = headers['x-forwarded-for'];
  const proto = headers['x-forwarded-proto'];
  const host = headers['x-forwarded-host'];
  if (forwardedFor === undefined && proto === undefined && host === undefined) return undefined;
  const nodes =
    forwardedFor === undefined
      ? []
      : String(forwardedFor)
          .split(',')
          .map((node) => node.trim());
  const first: string[] = [];
  if (nodes.length > 0) first.push(`for=${forwardedNode(nodes[0]!)}`);
  if (host !== undefined) first.push(`host=${String(host)}`);
  if (proto !== undefined) first.push(`proto=${String(proto)}`);
  return [first.join(';'), ...nodes.slice(1).map((node) => `for=${forwardedNode(node)}`)].join(', ');
}

/** IPv6 addresses must be bracketed and quoted in Forwarded. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

export class Pipeline {
  #deps: PipelineDeps;
  readonly inFlight = new InFlight();
  #answeredReady = false;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  handleRequest = (req: DownstreamRequest, res: DownstreamResponse): void => {
    const deps = this.#deps;
    const malformed = normalizeRequestTarget(req);
    if (malformed !== undefined) {
      writeError(res, 400, this.#malformed(malformed));
      return;
    }
    if (isHealthCheck(req)) {
      this.#serveHealthCheck(req, res);
      return;
    }
    if (req.headers[HopHeaders.networkProbe] === ProbeValues.ingress) {
      if (deps.drainer.draining) reply(res, 503, 'shutting down');
      else reply(res, 200, '', { [HopHeaders.networkHash]: String(req.headers[HopHeaders.networkHash] ?? '') });
      return;
    }
    deps.drainer.touch();
    this.inFlight.begin();
    new ProxiedRequest(this, deps, req, res).begin();
  };

  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const deps = this.#deps;
    const malformed = normalizeRequestTarget(req);
    if (malformed !== undefined) {
      socket.end(rawErrorResponse(400, this.#malformed(malformed)));
      return;
    }
    deps.drainer.touch();
    this.inFlight.begin();
    const proxied = isProxied(req);
    const arrivedAt = deps.clock.now();
    deps.stats.requestIn(arrivedAt, proxied);
    const originalHost = req.headers[HopHeaders.originalHost];
    // The revision's timeoutSeconds bounds the wait for the app's 101, as it bounds a request's first byte.
    const timeouts = { responseMs: deps.timeouts.firstByteMs, idleMs: deps.upgradeIdleTimeoutMs };
    const ended = () => {
      deps.stats.requestOut(deps.clock.now(), proxied);
      this.inFlight.end();
    };
    // An upgraded connection holds its slot until it closes, as a hijacked Go handler does.
    holdUpgrade(socket, {
      breaker: deps.breaker,
      responseMs: timeouts.responseMs,
      arrivedAt,
      clock: deps.clock,
      admitted: () =>
        forwardUpgrade(req, socket, head, deps.upstream, {
          timeouts,
          arrivedAt,
          clock: deps.clock,
          dropRequestHeaders: DROPPED_HEADERS,
          ...(typeof originalHost === 'string' ? { host: originalHost } : {}),
          onClose: () => {
            deps.breaker?.release();
            ended();
          },
        }),
      refused: ended,
    });
  };

  #malformed(reason: string): string {
    const requestId = newRequestId();
    this.#deps.log.debug('malformed request', { requestId, reason });
    return requestId;
  }

  #serveHealthCheck(req: DownstreamRequest, res: DownstreamResponse): void {
    const deps = this.#deps;
    const probe = req.headers[HopHeaders.networkProbe];
    if (probe !== ProbeValues.queue) {
      reply(res, 400, `unexpected probe header value: ${probe ?? ''}`);
      return;
    }
    if (deps.drainer.draining) {
      reply(res, 503, 'shutting down');
      return;
    }
    deps.readiness.check().then(
      (ready) => {
        if (res.destroyed) return;
        if (ready && !deps.drainer.draining) {
          // When traffic may start. Logged before the answer leaves, so the prober cannot log its success earlier.
          if (!this.#answeredReady) {
            this.#answeredReady = true;
            deps.log.info('first health check answered ready', { userAgent: req.headers['user-agent'] });
          }
          reply(res, 200, ProbeValues.queue);
        } else {
          reply(res, 503, deps.drainer.draining ? 'shutting down' : 'container not ready');
        }
      },
      (error: Error) => {
        const requestId = newRequestId();
        deps.log.error('health check failed', { requestId, error: error.message });
        reply(res, 500, errorBody(500, requestId), { [REQUEST_ID_HEADER]: requestId });
      },
    );
  }
}

/** One request's life in the pipeline. */
class ProxiedRequest extends HeldRequest<PipelineDeps> {
  #pipeline: Pipeline;
  #proxied: boolean;

  constructor(pipeline: Pipeline, deps: PipelineDeps, req: DownstreamRequest, res: DownstreamResponse) {
    super(deps, req, res, deps.breaker, deps);
    this.#pipeline = pipeline;
    this.#proxied = isProxied(req);
  }

  begin(): void {
    this.deps.stats.requestIn(this.arrivedAt, this.#proxied);
    this.hold();
  }

  protected proxy(): void {
    this.phase = 'proxying';
    const req = this.req;
    const exchange = new ProxyExchange(req, this.res, this, this.deps.clock);
    this.exchange = exchange;
    const originalHost = req.headers[HopHeaders.originalHost];
    const forwarded = forwardedFromLegacy(req);
    const upstream = req.httpVersionMajor === 2 ? this.deps.h2cUpstream : this.deps.upstream;
    exchange.start(
      upstream,
      typeof originalHost === 'string' || forwarded !== undefined
        ? {
            dropRequestHeaders: DROPPED_HEADERS,
            ...(typeof originalHost === 'string' ? { host: originalHost } : {}),
            ...(forwarded !== undefined ? { addHeaders: ['Forwarded', forwarded] } : {}),
          }
        : DEFAULT_FORWARD,
    );
  }

  protected logFields(): Record<string, unknown> {
    return { path: this.req.url, phase: this.phase };
  }

  protected settle(status: number): void {
    const deps = this.deps;
    if (this.holdsSlot) {
      this.holdsSlot = false;
      deps.breaker?.release();
    }
    const now = deps.clock.now();
    deps.stats.requestOut(now, this.#proxied);
    deps.userMetrics.observe(status, now - this.arrivedAt);
    this.#pipeline.inFlight.end();
  }
}
