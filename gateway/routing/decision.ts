// What routing tells the server/proxy layer to do with a request. Every decision object is built
// with the routing table and shared by all requests it applies to, so routing allocates nothing
// per request; callers must treat decisions as read-only.
import type { Upstream } from './split.ts';

/** A header name (lower-case) and value, to be set on the forwarded request, replacing any value the client sent. */
export type HeaderPair = readonly [name: string, value: string];

export interface IngressRef {
  readonly namespace: string;
  readonly name: string;
}

/** The Kubernetes Service a KIngress split names (the revision's public Service in Knative). */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly port: number | string;
}

/** `serve`: the split's own pods; `proxy`: the activator, which holds the request until pods exist. */
export type BackendMode = 'serve' | 'proxy';
export type UpstreamProtocol = 'http1' | 'h2c';

export interface ForwardDecision {
  readonly kind: 'forward';
  readonly ingress: IngressRef;
  readonly service: ServiceRef;
  readonly mode: BackendMode;
  readonly protocol: UpstreamProtocol;
  readonly upstream: Upstream;
  readonly setHeaders: readonly HeaderPair[];
  /** Host (authority) to send upstream instead of the client's, when the KIngress path asks for it. */
  readonly rewriteHost: string | undefined;
}

/**
 * Answer to Knative's ingress readiness prober, given by the gateway itself: 200 with
 * `K-Network-Hash: <hash>` proves that this gateway serves the current spec of the Ingress that owns the host.
 */
export interface ProbeDecision {
  readonly kind: 'probe';
  readonly status: 200;
  readonly ingress: IngressRef;
  readonly hash: string;
}

export type RejectReason =
  | 'unknown-host'
  | 'no-matching-path'
  | 'no-weighted-split'
  | 'backend-unknown'
  | 'no-ready-endpoints'
  | 'unserved-rewrite-host';

export interface RejectDecision {
  readonly kind: 'reject';
  readonly status: 404 | 503;
  readonly reason: RejectReason;
  /** One line for the response body and logs. */
  readonly message: string;
}

export type RouteDecision = ForwardDecision | ProbeDecision | RejectDecision;

const reject = (status: 404 | 503, reason: RejectReason, message: string): RejectDecision =>
  Object.freeze({ kind: 'reject', status, reason, message });

// A cluster-local host asked for on the external listener gets the same answer as a host nobody
// serves, so the public side cannot learn which internal hosts exist.
export const UNKNOWN_HOST = reject(404, 'unknown-host', 'no route for this host');
export const NO_MATCHING_PATH = reject(404, 'no-matching-path', 'no route for this path and headers');

export const noWeightedSplit = (ingress: IngressRef): RejectDecision =>
  reject(503, 'no-weighted-split', `every split of ${ingress.namespace}/${ingress.name} has 0 percent`);

export const backendUnknown = (service: ServiceRef): RejectDecision =>
  reject(
    503,
    'backend-unknown',
    `backend ${service.namespace}/${service.name}:${service.port} is not known to the gateway yet`,
  );

export const noReadyEndpoints = (service: ServiceRef): RejectDecision =>
  reject(
    503,
    'no-ready-endpoints',
    `backend ${service.namespace}/${service.name}:${service.port} has no ready endpoints`,
  );

export const unservedRewriteHost = (host: string): RejectDecision =>
  reject(503, 'unserved-rewrite-host', `rewritten host ${host} is not served by any Ingress here`);
