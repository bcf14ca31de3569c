// The gateway's request path: route each request against the live table, then forward it to the
// chosen upstream through lib/http's ProxyExchange (requests) or forwardUpgrade (websockets).
// Each forwarded request holds one GatewayRequest, which keeps `upstream.inFlight` for the
// endpoint picker, enforces the body limit and timeouts, retries a refused connection on another
// endpoint of the same split, and records metrics and the access log when the exchange ends.
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Clock, Timer } from '../lib/clock.ts';
import { HopHeaders, INTERNAL_REQUEST_HEADERS, ProbeValues } from '../lib/hop.ts';
import type { Logger } from '../lib/log.ts';
import { errorBody, newRequestId, rawErrorResponse, REQUEST_ID_HEADER, writeError } from '../lib/http/errors.ts';
import { normalizeRequestTarget } from '../lib/http/requestTarget.ts';
import {
  endedStatus,
  ExchangeAbortedError,
  neverConnected,
  ProxyExchange,
  upstreamFailureFields,
  type Dispatch,
  type DownstreamRequest,
  type DownstreamResponse,
  type ExchangeListener,
  type ExchangeOutcome,
  type ForwardOptions,
} from '../lib/http/proxy.ts';
import { endTimedOut, nextDeadline, TIMEOUT_BODY, type RequestTimeouts } from '../lib/http/timeouts.ts';
import { forwardUpgrade, type UpgradeTimeouts } from '../lib/http/upgrade.ts';
import { InFlight } from '../lib/http/inFlight.ts';
import type { GatewayMetrics } from './metrics.ts';
import {
  route,
  type ForwardDecision,
  type HeaderPair,
  type Listener,
  type RejectDecision,
  type RouteDecision,
  type Upstream,
} from './routing/index.ts';
import type { LiveRouting } from './sync.ts';
import type { UpstreamPools } from './upstreams.ts';

const TOO_LARGE_BODY = 'request body too large';
/** Passive health: an endpoint that refused a connection is ejected this long, doubled for each ejection in a row. */
const EJECTION_BASE_MS = 1000;
const EJECTION_MAX_MS = 30_000;

/** How long an endpoint ejected `before` times in a row already stays out this time. */
export function ejectionMs(before: number): number {
  return Math.min(EJECTION_BASE_MS * 2 ** Math.min(before, 16), EJECTION_MAX_MS);
}
/**
 * Request timeouts are checked by one sweep over the requests in progress rather than a timer per
 * request (a timer costs an allocation and two heap operations per request). A request times out
 * within a tenth of its shortest timeout after its deadline, and never later than SWEEP_MAX_MS.
 */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 1000;
/**
 * Never trusted from the client: set by the gateway from the connection, or internal headers
 * between the hops behind it, which the gateway (the trust boundary) adds itself where a KIngress
 * asks for them.
 */
const GATEWAY_OWNED = ['x-forwarded-for', 'x-forwarded-proto', ...INTERNAL_REQUEST_HEADERS];

export interface ProxyLimits {
  /** Largest request body forwarded; 0 means no limit (as Kourier). */
  maxBodyBytes: number;
  /** `firstByteMs` 0 turns the time-to-first-byte timeout off (Kourier sets no route timeout). */
  timeouts: RequestTimeouts;
  /** Further endpoints tried when a connection could not be made (nothing was sent, so bodies too). */
  maxRetries: number;
  /** Websockets and other upgrades: the wait for the upstream's 101, then the idle tunnel. */
  upgradeTimeouts: UpgradeTimeouts;
}

export interface AccessLog {
  /** Log one request in `every` (1: all). */
  every: number;
  log: Logger;
}

export interface GatewayProxyDeps {
  routing: () => LiveRouting;
  pools: UpstreamPools;
  metrics: GatewayMetrics;
  limits: ProxyLimits;
  accessLog: AccessLog | undefined;
  clock: Clock;
  log: Logger;
}

/**
 * An ingress probe the gateway does not answer itself (its hash is not `override`) goes on with
 * its probe headers, for the activator or queue-proxy to answer with the hash echoed, as KIngress
 * conformance expects; those hops answer it without the app, so it carries no load anyone counts.
 */
const PROBE_PASSES: ReadonlySet<string> = new Set([HopHeaders.networkProbe, HopHeaders.networkHash]);

/** The forwarded form of a decision's header edits, built once per decision's header list. */
interface PreparedHeaders {
  drop: ReadonlySet<string>;
  /** `drop` for an ingress probe. */
  dropFromProbe: ReadonlySet<string>;
  add: readonly string[];
}

const prepared = new WeakMap<readonly HeaderPair[], PreparedHeaders>();

function prepare(setHeaders: readonly HeaderPair[]): PreparedHeaders {
  let headers = prepared.get(setHeaders);
  if (headers === undefined) {
    const drop = new Set([...GATEWAY_OWNED, ...setHeaders.map(([name]) => name)]);
    headers = {
      drop,
      dropFromProbe: new Set([...drop].filter((name) => !PROBE_PASSES.has(name))),
      add: setHeaders.flat(),
    };
    prepared.set(setHeaders, headers);
  }
  return headers;
}

const isIngressProbe = (req: DownstreamRequest): boolean =>
  req.headers[HopHeaders.networkProbe] === ProbeValues.ingress;

function clientAddress(req: DownstreamRequest): string {
  const remote = req.socket?.remoteAddress ?? '';
  const previous = req.headers['x-forwarded-for'];
  return previous === undefined ? remote : `${String(previous)}, ${remote}`;
}

function forwardOptions(req: DownstreamRequest, decision: ForwardDecision): ForwardOptions {
  const headers = prepare(decision.setHeaders);
  const proto = (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
  const drop = isIngressProbe(req) ? headers.dropFromProbe : headers.drop;
  const add = [...headers.add, 'x-forwarded-for', clientAddress(req), 'x-forwarded-proto', proto];
  if (decision.rewriteHost === undefined) return { dropRequestHeaders: drop, addHeaders: add };
  const host = req.headers.host ?? req.headers[':authority'];
  if (typeof host === 'string') add.push(HopHeaders.originalHost, host);
  return { dropRequestHeaders: drop, addHeaders: add, host: decision.rewriteHost };
}

function hostOf(req: DownstreamRequest): string | undefined {
  const host = req.headers.host ?? req.headers[':authority'];
  return typeof host === 'string' ? host : undefined;
}

function reply(
  req: DownstreamRequest,
  res: DownstreamResponse,
  status: number,
  body: string,
  extra?: Record<string, string>,
): void {
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extra,
  };
  // The rest of a refused body is not worth reading; connection-specific headers are forbidden in HTTP/2.
  if (status === 413 && req.httpVersionMajor < 2) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

function mayHaveUnsizedBody(req: DownstreamRequest): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  return req.httpVersionMajor >= 2 && req.method !== 'GET' && req.method !== 'HEAD';
}

/** Timeouts with 0 (off) read, so a deadline is one min() over the three. */
function effectiveTimeouts(timeouts: RequestTimeouts): RequestTimeouts | undefined {
  if (timeouts.firstByteMs === 0 && timeouts.idleMs === 0 && timeouts.responseStartMs === 0) return undefined;
  return timeouts.firstByteMs === 0 ? { ...timeouts, firstByteMs: Infinity } : timeouts;
}

function sweepIntervalMs(timeouts: RequestTimeouts): number {
  const shortest = Math.min(
    ...[timeouts.firstByteMs, timeouts.idleMs, timeouts.responseStartMs].filter((ms) => ms > 0),
  );
  return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 10)));
}

export class GatewayProxy {
  readonly deps: GatewayProxyDeps;
  /** Undefined when every request timeout is off. */
  readonly timeouts: RequestTimeouts | undefined;
  readonly inFlight = new InFlight();
  #accessCount = 0;
  /**
   * Requests whose timeouts the sweep checks, as a list threaded through the requests
   * themselves: watching a request allocates nothing, and a finished request is unlinked at once.
   * (A Set here, with one add and one delete per request, kept finished requests reachable
   * until it rehashed, so whole generations of requests survived scavenges and filled old space.)
   */
  #timedHead: GatewayRequest | undefined;
  readonly #sweepMs: number;
  #sweep: Timer | undefined;

  constructor(deps: GatewayProxyDeps) {
    this.deps = deps;
    this.timeouts = effectiveTimeouts(deps.limits.timeouts);
    this.#sweepMs = this.timeouts === undefined ? 0 : sweepIntervalMs(deps.limits.timeouts);
  }

  /** Watches a request's timeouts until untime(). */
  time(request: GatewayRequest): void {
    const head = this.#timedHead;
    request.timedNext = head;
    if (head !== undefined) head.timedPrev = request;
    this.#timedHead = request;
    this.#sweep ??= this.deps.clock.setTimeout(this.#onSweep, this.#sweepMs);
  }

  untime(request: GatewayRequest): void {
    const { timedPrev: prev, timedNext: next } = request;
    if (prev !== undefined) prev.timedNext = next;
    else if (this.#timedHead === request) this.#timedHead = next;
    if (next !== undefined) next.timedPrev = prev;
    request.timedPrev = undefined;
    request.timedNext = undefined;
  }

  #onSweep = (): void => {
    this.#sweep = undefined;
    const now = this.deps.clock.now();
    for (let request = this.#timedHead; request !== undefined; ) {
      // Read first: a request that times out unlinks itself.
      const next = request.timedNext;
      request.checkDeadline(now);
      request = next;
    }
    if (this.#timedHead !== undefined) this.#sweep = this.deps.clock.setTimeout(this.#onSweep, this.#sweepMs);
  };

  requestHandler(listener: Listener): (req: DownstreamRequest, res: DownstreamResponse) => void {
    return (req, res) => {
      const arrivedAt = this.deps.clock.now();
      const malformed = normalizeRequestTarget(req);
      if (malformed !== undefined) {
        writeError(res, 400, this.#malformed(req, malformed));
        this.recordEnd(req, undefined, '', '', '', 400, arrivedAt, undefined);
        return;
      }
      const decision = this.#route(listener, req);
      if (decision.kind === 'forward') {
        this.inFlight.begin();
        new GatewayRequest(this, decision, req, res, arrivedAt).begin();
        return;
      }
      if (decision.kind === 'probe') {
        reply(req, res, 200, '', { [HopHeaders.networkHash]: decision.hash });
        this.recordEnd(req, decision, decision.ingress.namespace, decision.ingress.name, '', 200, arrivedAt, undefined);
        return;
      }
      const requestId = this.#rejected(req, decision);
      reply(req, res, decision.status, errorBody(decision.status, requestId), { [REQUEST_ID_HEADER]: requestId });
      this.recordEnd(req, decision, '', '', '', decision.status, arrivedAt, undefined);
    };
  }

  /** A client's malformed request is its own business: logged at debug, under the id it is given. */
  #malformed(req: DownstreamRequest, reason: string): string {
    const requestId = newRequestId();
    this.deps.log.debug('malformed request', { requestId, reason, client: req.socket?.remoteAddress });
    return requestId;
  }

  /**
   * Logs why a request was refused under a new request id and returns the id: the client is told
   * only the status and the id, never which namespace, revision or backend lies behind the host.
   * A refusal of a host or path nobody serves is what scanners cause, so it is logged at debug.
   */
  #rejected(req: DownstreamRequest, decision: RejectDecision): string {
    const requestId = newRequestId();
    const fields = { requestId, reason: decision.reason, detail: decision.message, host: hostOf(req), path: req.url };
    if (decision.status >= 500) this.deps.log.warn('request refused', fields);
    else this.deps.log.debug('request refused', fields);
    return requestId;
  }

  upgradeHandler(listener: Listener): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
    return (req, socket, head) => {
      const arrivedAt = this.deps.clock.now();
      const malformed = normalizeRequestTarget(req);
      if (malformed !== undefined) {
        socket.on('error', () => socket.destroy());
        socket.end(rawErrorResponse(400, this.#malformed(req, malformed)));
        this.recordEnd(req, undefined, '', '', '', 400, arrivedAt, undefined);
        return;
      }
      const decision = this.#route(listener, req);
      if (decision.kind !== 'forward') {
        // A probe cannot upgrade.
        const status = decision.kind === 'probe' ? 400 : decision.status;
        const requestId = decision.kind === 'probe' ? newRequestId() : this.#rejected(req, decision);
        socket.on('error', () => socket.destroy());
        socket.end(rawErrorResponse(status, requestId));
        this.recordEnd(req, undefined, '', '', '', status, arrivedAt, undefined);
        return;
      }
      this.inFlight.begin();
      const upstream = decision.upstream;
      upstream.inFlight++;
      const options = forwardOptions(req, decision);
      // forwardUpgrade has no addHeaders option: the revision headers go into the raw header list
      // it copies, after the client's own values for those names are taken out.
      const drop = options.dropRequestHeaders!;
      const kept: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (!drop.has(req.rawHeaders[i]!.toLowerCase())) kept.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      }
      req.rawHeaders = [...kept, ...options.addHeaders!];
      forwardUpgrade(req, socket, head, this.deps.pools.http1(upstream.address), {
        timeouts: this.deps.limits.upgradeTimeouts,
        arrivedAt,
        clock: this.deps.clock,
        ...(options.host === undefined ? {} : { host: options.host }),
        onClose: (status, error) => {
          upstream.inFlight--;
          if (error !== undefined && neverConnected(error)) this.eject(upstream, (error as NodeJS.ErrnoException).code);
          this.recordEnd(
            req,
            decision,
            decision.ingress.namespace,
            decision.ingress.name,
            decision.service.name,
            status,
            arrivedAt,
            upstream.address,
          );
          this.inFlight.end();
        },
      });
    };
  }

  /**
   * Takes an endpoint that could not be connected to out of picking for a while: with no requests
   * in flight it would otherwise look the least loaded and attract every request. It comes back
   * on its own; a response from it resets the backoff.
   */
  eject(upstream: Upstream, code: string | undefined): void {
    if (upstream.ejected) return;
    const forMs = ejectionMs(upstream.ejections);
    upstream.ejected = true;
    upstream.ejections++;
    this.deps.log.warn('endpoint ejected', { upstream: upstream.address, code, forMs, ejections: upstream.ejections });
    this.deps.clock.setTimeout(() => {
      upstream.ejected = false;
    }, forMs);
  }

  /** `decision` keys the metric series for (namespace, route, revision) when there is one. */
  recordEnd(
    req: DownstreamRequest,
    decision: RouteDecision | undefined,
    namespace: string,
    routeName: string,
    revision: string,
    status: number,
    arrivedAt: number,
    upstream: string | undefined,
  ): void {
    const latencyMs = this.deps.clock.now() - arrivedAt;
    this.deps.metrics.observe(decision, namespace, routeName, revision, status, latencyMs);
    const access = this.deps.accessLog;
    if (access === undefined || ++this.#accessCount % access.every !== 0) return;
    access.log.info('request', {
      method: req.method,
      host: hostOf(req),
      path: req.url,
      protocol: req.httpVersion,
      status,
      latencyMs,
      namespace,
      route: routeName,
      revision,
      upstream,
      client: req.socket?.remoteAddress,
    });
  }

  #route(listener: Listener, req: DownstreamRequest): RouteDecision {
    return route(this.deps.routing().table, {
      listener,
      host: hostOf(req),
      path: req.url ?? '/',
      headers: req.headers,
    });
  }
}

/**
 * One forwarded request. It is the dispatcher handed to its ProxyExchange and the handler the
 * upstream pool reports to, so a refused connection can be redirected to another endpoint before
 * the exchange hears of it.
 */
class GatewayRequest implements Dispatch, ExchangeListener, Dispatcher.DispatchHandler {
  readonly #proxy: GatewayProxy;
  readonly #req: DownstreamRequest;
  readonly #res: DownstreamResponse;
  readonly #arrivedAt: number;
  readonly #exchange: ProxyExchange;
  #decision: ForwardDecision;
  #dispatchOptions: Dispatcher.DispatchOptions | undefined;
  #attempts = 0;
  #responseStarted = false;
  #done = false;
  #bodyBytes = 0;
  #timed = false;
  /** Links in the proxy's list of timed requests. */
  timedPrev: GatewayRequest | undefined;
  timedNext: GatewayRequest | undefined;

  constructor(
    proxy: GatewayProxy,
    decision: ForwardDecision,
    req: DownstreamRequest,
    res: DownstreamResponse,
    arrivedAt: number,
  ) {
    this.#proxy = proxy;
    this.#decision = decision;
    this.#req = req;
    this.#res = res;
    this.#arrivedAt = arrivedAt;
    this.#exchange = new ProxyExchange(req, res, this, proxy.deps.clock);
  }

  begin(): void {
    const limits = this.#proxy.deps.limits;
    const req = this.#req;
    this.#decision.upstream.inFlight++;
    if (limits.maxBodyBytes > 0) {
      const length = req.headers['content-length'];
      if (length !== undefined && Number(length) > limits.maxBodyBytes) {
        reply(req, this.#res, 413, TOO_LARGE_BODY);
        this.#finish(413);
        return;
      }
      if (length === undefined && mayHaveUnsizedBody(req)) {
        // Paused first, so counting does not start the flow before undici is ready to forward
        // it; undici resumes the stream once it writes the body, and both listeners see every chunk.
        req.pause();
        req.on('data', (chunk: Buffer) => this.#countBody(chunk));
      }
    }
    if (this.#proxy.timeouts !== undefined) {
      this.#timed = true;
      this.#proxy.time(this);
    }
    this.#exchange.start(this, forwardOptions(req, this.#decision));
  }

  dispatch(options: Dispatcher.DispatchOptions): boolean {
    this.#dispatchOptions = options;
    return this.#send();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#exchange.onRequestStart(controller);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode >= 200) this.#responseStarted = true;
    const upstream = this.#decision.upstream;
    if (upstream.ejections !== 0) upstream.ejections = 0;
    this.#exchange.onResponseStart(controller, statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#exchange.onResponseData(controller, chunk);
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.#exchange.onResponseEnd(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    if (!this.#responseStarted && neverConnected(error))
      this.#proxy.eject(this.#decision.upstream, (error as NodeJS.ErrnoException).code);
    if (this.#mayRetry(error)) {
      const next = this.#untriedSibling();
      if (next !== undefined) {
        this.#decision.upstream.inFlight--;
        next.upstream.inFlight++;
        this.#decision = next;
        this.#send();
        return;
      }
    }
    this.#exchange.onResponseError(controller, error);
  }

  exchangeEnded(exchange: ProxyExchange, outcome: ExchangeOutcome, error: Error | undefined): void {
    if (this.#done) return;
    if (outcome === 'upstream-failed') {
      const decision = this.#decision;
      this.#proxy.deps.log.warn('upstream failed', {
        namespace: decision.ingress.namespace,
        service: decision.service.name,
        upstream: decision.upstream.address,
        attempts: this.#attempts,
        responseStarted: this.#responseStarted,
        ...upstreamFailureFields(exchange, error),
      });
    }
    this.#finish(endedStatus(this.#res, outcome));
  }

  #send(): boolean {
    this.#attempts++;
    const decision = this.#decision;
    return this.#proxy.deps.pools
      .get(decision.upstream.address, decision.protocol)
      .dispatch(this.#dispatchOptions!, this);
  }

  /**
   * Only a connection never made proves the upstream saw nothing, whatever the method; the body
   * goes along if none of it has been read yet (undici reads it only once connected).
   */
  #mayRetry(error: Error): boolean {
    const body = this.#dispatchOptions?.body;
    return (
      !this.#done &&
      !this.#responseStarted &&
      neverConnected(error) &&
      (body == null || !(body as Readable).readableDidRead) &&
      this.#attempts <= this.#proxy.deps.limits.maxRetries
    );
  }

  #untriedSibling(): ForwardDecision | undefined {
    const siblings = this.#proxy.deps.routing().alternatives.get(this.#decision);
    if (siblings === undefined || siblings.length < 2) return undefined;
    const at = siblings.indexOf(this.#decision);
    // Siblings are tried in order after the refused one, so no endpoint is tried twice.
    return this.#attempts < siblings.length ? siblings[(at + 1) % siblings.length] : undefined;
  }

  #countBody(chunk: Buffer): void {
    this.#bodyBytes += chunk.length;
    if (this.#done || this.#bodyBytes <= this.#proxy.deps.limits.maxBodyBytes) return;
    this.#done = true;
    this.#exchange.abort(new ExchangeAbortedError(TOO_LARGE_BODY));
    if (this.#res.headersSent || this.#res.destroyed) this.#res.destroy();
    else reply(this.#req, this.#res, 413, TOO_LARGE_BODY);
    this.#finish(413);
  }

  /** Called by the proxy's sweep; times the request out once a deadline has passed. */
  checkDeadline(now: number): void {
    if (this.#done || nextDeadline(this.#proxy.timeouts!, this.#arrivedAt, this.#exchange.lastWriteAt, now) > now)
      return;
    // Done before aborting, so the exchange's own end report is ignored.
    this.#done = true;
    this.#exchange.abort(new ExchangeAbortedError(TIMEOUT_BODY));
    endTimedOut(this.#res);
    this.#finish(504);
  }

  #finish(status: number): void {
    this.#done = true;
    if (this.#timed) this.#proxy.untime(this);
    const decision = this.#decision;
    decision.upstream.inFlight--;
    this.#proxy.recordEnd(
      this.#req,
      decision,
      decision.ingress.namespace,
      decision.ingress.name,
      decision.service.name,
      status,
      this.#arrivedAt,
      decision.upstream.address,
    );
    this.#proxy.inFlight.end();
  }
}
