// The activator's request pipeline (S:pkg/activator/handler/*.go), outermost first: health and
// network probes → revision from the Knative-Serving-* headers (unknown: 404) → concurrency
// reporting → timeout → hold in the revision's breaker → proxy to a pod's queue-proxy, retrying
// on another pod when a connection is refused. Upgrades take the same path without the retry.
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Clock } from '../lib/clock.ts';
import {
  canonicalHeaderName,
  HopHeaders,
  INTERNAL_REQUEST_HEADERS,
  PROBE_USER_AGENTS,
  PROXIED_BY_ACTIVATOR,
  ProbeValues,
} from '../lib/hop.ts';
import type { Logger } from '../lib/log.ts';
import { newRequestId, rawErrorResponse, writeError } from '../lib/http/errors.ts';
import { normalizeRequestTarget } from '../lib/http/requestTarget.ts';
import { HeldRequest } from '../lib/http/heldRequest.ts';
import { InFlight } from '../lib/http/inFlight.ts';
import { forwardUpgrade, holdUpgrade, type UpgradeTimeouts } from '../lib/http/upgrade.ts';
import {
  neverConnected,
  ProxyExchange,
  type DownstreamRequest,
  type DownstreamResponse,
  type ForwardOptions,
} from '../lib/http/proxy.ts';
import { revisionKey } from './backends.ts';
import type { ActivatorMetrics } from './metrics.ts';
import type { Revisions, ServedRevision } from './revisions.ts';
import type { ConcurrencyReporter } from './stats.ts';
import type { PodTracker } from './throttler.ts';

/** Connection refused means nothing was sent, so another pod may have it; a few tries suffice. */
const MAX_ATTEMPTS = 3;

/**
 * The pod learns the revision from its own environment, and no K-Proxy-Request, network probe or
 * kubelet-probe marker but the activator's own may pass as ours; K-Original-Host, which the
 * gateway set, goes on to queue-proxy, which restores the Host from it.
 */
const DROPPED_HEADERS: ReadonlySet<string> = new Set(
  [...INTERNAL_REQUEST_HEADERS].filter((name) => name !== HopHeaders.originalHost),
);
const FORWARD: ForwardOptions = {
  dropRequestHeaders: DROPPED_HEADERS,
  addHeaders: [HopHeaders.proxyRequest, PROXIED_BY_ACTIVATOR],
};

export interface HandlerDeps {
  revisions: Revisions;
  concurrency: ConcurrencyReporter;
  metrics: ActivatorMetrics;
  clock: Clock;
  log: Logger;
  /** A websocket tunnel with no byte either way for this long is closed; 0: off. */
  upgradeIdleTimeoutMs: number;
}

function reply(res: DownstreamResponse, status: number, body: string, headers?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function isKubeletProbe(req: DownstreamRequest): boolean {
  return (
    req.headers[HopHeaders.kubeletProbe] !== undefined ||
    req.headers['user-agent']?.startsWith(PROBE_USER_AGENTS.kubelet) === true
  );
}

export class ActivatorHandler {
  readonly deps: HandlerDeps;
  /** Set after SIGTERM: health checks fail so traffic moves elsewhere, while requests are still served. */
  draining = false;
  readonly inFlight = new InFlight();

  constructor(deps: HandlerDeps) {
    this.deps = deps;
  }

  handleRequest = (req: DownstreamRequest, res: DownstreamResponse): void => {
    const malformed = normalizeRequestTarget(req);
    if (malformed !== undefined) {
      writeError(res, 400, this.#refused(malformed));
      return;
    }
    const headers = req.headers;
    const networkProbe = headers[HopHeaders.networkProbe];
    if (networkProbe !== undefined) {
      this.#answerNetworkProbe(networkProbe, String(headers[HopHeaders.networkHash] ?? ''), res);
      return;
    }
    if (isKubeletProbe(req)) {
      if (this.draining) reply(res, 503, 'shutting down');
      else reply(res, 200, 'ok');
      return;
    }
    const revision = this.#revisionOf(req);
    if (typeof revision === 'string') {
      writeError(res, 404, this.#refused(revision));
      return;
    }
    this.inFlight.begin();
    new ActivatedRequest(this, revision, req, res).begin();
  };

  /**
   * Upgrades (websockets) are held and admitted like requests and keep their slot until the
   * connection closes, as a hijacked connection does upstream; they are not retried.
   */
  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const malformed = normalizeRequestTarget(req);
    if (malformed !== undefined) {
      socket.end(rawErrorResponse(400, this.#refused(malformed)));
      return;
    }
    const revision = this.#revisionOf(req);
    if (typeof revision === 'string') {
      socket.end(rawErrorResponse(404, this.#refused(revision)));
      return;
    }
    this.inFlight.begin();
    new ActivatedUpgrade(this, revision, req, socket, head).begin();
  };

  /** Logs why a request is refused (it names no revision here, or is malformed); the client gets only the id. */
  #refused(why: string): string {
    const requestId = newRequestId();
    this.deps.log.warn('request refused', { requestId, detail: why });
    return requestId;
  }

  /** The revision the gateway named, or why there is none. */
  #revisionOf(req: DownstreamRequest): ServedRevision | string {
    const name = req.headers[HopHeaders.revision];
    const namespace = req.headers[HopHeaders.revisionNamespace];
    if (typeof name !== 'string' || typeof namespace !== 'string')
      return `missing ${canonicalHeaderName(HopHeaders.revision)} or ${canonicalHeaderName(HopHeaders.revisionNamespace)} header`;
    return this.deps.revisions.get(revisionKey(namespace, name)) ?? `revision ${namespace}/${name} not found`;
  }

  #answerNetworkProbe(value: string | string[], hash: string, res: DownstreamResponse): void {
    if (value === ProbeValues.ingress) {
      if (this.draining) reply(res, 503, 'shutting down');
      else reply(res, 200, '', { [HopHeaders.networkHash]: hash });
    } else if (value === ProbeValues.activator) {
      reply(res, 200, ProbeValues.activator);
    } else {
      reply(res, 400, `unexpected probe header value: ${String(value)}`);
    }
  }
}

/** One request's life: the revision's breaker, then a pod slot, retried on another pod when refused. */
class ActivatedRequest extends HeldRequest<HandlerDeps> {
  #handler: ActivatorHandler;
  #revision: ServedRevision;
  #pod: PodTracker | undefined;
  #attempts = 0;

  constructor(handler: ActivatorHandler, revision: ServedRevision, req: DownstreamRequest, res: DownstreamResponse) {
    super(handler.deps, req, res, revision.throttler.breaker, revision);
    this.#handler = handler;
    this.#revision = revision;
  }

  begin(): void {
    const revision = this.#revision;
    this.deps.concurrency.requestIn(revision.key, revision.namespace, revision.name, this.arrivedAt);
    this.hold();
  }

  /** Called by the exchange before it answers 502: true when the request went to another pod or back to the queue. */
  retryRefused(error: Error): boolean {
    if (this.phase !== 'proxying' || !neverConnected(error)) return false;
    if (this.#attempts >= MAX_ATTEMPTS || (this.req as Readable).readableDidRead) return false;
    const failed = this.#pod!;
    this.#pod = undefined;
    failed.unreserve();
    this.#revision.throttler.podFailed(failed);
    // The failed pod left the revision's capacity, so this slot may no longer be backed by a pod.
    this.#releaseSlot();
    this.phase = 'queued';
    this.enter();
    return true;
  }

  protected proxy(): void {
    const pod = this.#revision.throttler.reservePod();
    if (pod === undefined) {
      // Capacity is free pod slots on healthy pods, so a revision slot always finds one; if that
      // ever breaks, answering is better than re-queueing into the same state forever.
      const requestId = newRequestId();
      this.deps.log.error('admitted without a free pod slot', { requestId, revision: this.#revision.key });
      writeError(this.res, 503, requestId);
      this.finish(503);
      return;
    }
    this.phase = 'proxying';
    this.#pod = pod;
    this.#attempts++;
    this.#revision.active++;
    const exchange = new ActivatorExchange(this.req, this.res, this, this.deps.clock);
    this.exchange = exchange;
    exchange.start(pod.dispatcherFor(this.req.httpVersionMajor), FORWARD);
  }

  /** Counts the request out of revision.active only if it was proxying, as only then was it counted in. */
  #releaseSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    if (this.phase === 'proxying') this.#revision.active--;
    this.#revision.throttler.breaker.release();
  }

  protected logFields(): Record<string, unknown> {
    return {
      revision: this.#revision.key,
      pod: this.#pod?.address,
      path: this.req.url,
      phase: this.phase,
      attempts: this.#attempts,
    };
  }

  protected settle(status: number): void {
    const deps = this.deps;
    if (this.#pod !== undefined) {
      this.#pod.unreserve();
      this.#pod = undefined;
    }
    this.#releaseSlot();
    const now = deps.clock.now();
    deps.concurrency.requestOut(this.#revision.key, now);
    deps.metrics.requestDone(this.#revision.namespace, this.#revision.name, status, now - this.arrivedAt);
    this.#handler.inFlight.end();
  }
}

/** An exchange that offers a refused connection back to its request before answering 502. */
class ActivatorExchange extends ProxyExchange {
  #request: ActivatedRequest;

  constructor(req: DownstreamRequest, res: DownstreamResponse, request: ActivatedRequest, clock: Clock) {
    super(req, res, request, clock);
    this.#request = request;
  }

  override onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#request.retryRefused(error)) return;
    super.onResponseError(controller, error);
  }
}

type UpgradePhase = 'queued' | 'connected' | 'done';

/** An upgrade held like a request (holdUpgrade), then forwarded to a pod within the same timeouts. */
class ActivatedUpgrade {
  #handler: ActivatorHandler;
  #deps: HandlerDeps;
  #revision: ServedRevision;
  #req: IncomingMessage;
  #socket: Duplex;
  #head: Buffer;
  #arrivedAt: number;
  #timeouts: UpgradeTimeouts;
  #phase: UpgradePhase = 'queued';
  #holdsSlot = false;
  #pod: PodTracker | undefined;

  constructor(handler: ActivatorHandler, revision: ServedRevision, req: IncomingMessage, socket: Duplex, head: Buffer) {
    this.#handler = handler;
    this.#deps = handler.deps;
    this.#revision = revision;
    this.#req = req;
    this.#socket = socket;
    this.#head = head;
    this.#arrivedAt = this.#deps.clock.now();
    // The revision's timeoutSeconds bounds the wait for the pod's 101, as it bounds a request's first byte.
    this.#timeouts = { responseMs: revision.timeouts.firstByteMs, idleMs: this.#deps.upgradeIdleTimeoutMs };
  }

  begin(): void {
    const revision = this.#revision;
    this.#deps.concurrency.requestIn(revision.key, revision.namespace, revision.name, this.#arrivedAt);
    holdUpgrade(this.#socket, {
      breaker: revision.throttler.breaker,
      responseMs: this.#timeouts.responseMs,
      arrivedAt: this.#arrivedAt,
      clock: this.#deps.clock,
      admitted: () => this.#connect(),
      refused: (status) => this.#finish(status),
    });
  }

  #connect(): void {
    this.#holdsSlot = true;
    const pod = this.#revision.throttler.reservePod();
    if (pod === undefined) {
      const requestId = newRequestId();
      this.#deps.log.error('admitted without a free pod slot', { requestId, revision: this.#revision.key });
      this.#socket.end(rawErrorResponse(503, requestId));
      this.#finish(503);
      return;
    }
    this.#phase = 'connected';
    this.#pod = pod;
    this.#revision.active++;
    // forwardUpgrade takes no extra headers, so upgrades reach queue-proxy without K-Proxy-Request.
    forwardUpgrade(this.#req, this.#socket, this.#head, pod.dispatcher, {
      timeouts: this.#timeouts,
      arrivedAt: this.#arrivedAt,
      clock: this.#deps.clock,
      dropRequestHeaders: DROPPED_HEADERS,
      onClose: (status) => this.#finish(status),
    });
  }

  #finish(status: number): void {
    if (this.#phase === 'done') return;
    const deps = this.#deps;
    if (this.#pod !== undefined) {
      this.#pod.unreserve();
      this.#pod = undefined;
    }
    if (this.#holdsSlot) {
      this.#holdsSlot = false;
      if (this.#phase === 'connected') this.#revision.active--;
      this.#revision.throttler.breaker.release();
    }
    this.#phase = 'done';
    const now = deps.clock.now();
    deps.concurrency.requestOut(this.#revision.key, now);
    deps.metrics.requestDone(this.#revision.namespace, this.#revision.name, status, now - this.#arrivedAt);
    this.#handler.inFlight.end();
  }
}
