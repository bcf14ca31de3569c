// The data-plane contract between the hops of a request (gateway → activator → queue-proxy → user
// container) and the controller that wires them: the internal headers each hop sets and reads,
// probe values, queue-proxy's ports, its drain path and the environment the Revision controller
// writes for it. Writers and readers import the names from here, so they cannot drift apart
// (names as knative.dev/networking pkg/http/header and knative.dev/serving pkg/networking).

/** Internal request headers, lower-case as node:http delivers them. */
export const HopHeaders = {
  /** Set by the activator on what it forwards; queue-proxy counts those requests as proxied. */
  proxyRequest: 'k-proxy-request',
  /** A probe of the network path; the value says which hop is asked (ProbeValues). */
  networkProbe: 'k-network-probe',
  /** The KIngress hash a network probe expects echoed back. */
  networkHash: 'k-network-hash',
  /** The Host the client asked for, when a DomainMapping rewrote it. */
  originalHost: 'k-original-host',
  /** The revision the gateway chose, for the activator. */
  revision: 'knative-serving-revision',
  revisionNamespace: 'knative-serving-namespace',
  /** Marks a kubelet probe whose User-Agent cannot say so. */
  kubeletProbe: 'k-kubelet-probe',
} as const;

/** A header name as Knative writes it in objects it stores (`k-network-probe` → `K-Network-Probe`). */
export const canonicalHeaderName = (name: string): string =>
  name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());

/** The value of K-Proxy-Request on what the activator forwards. */
export const PROXIED_BY_ACTIVATOR = 'activator';

/** Values of K-Network-Probe, and the hash that asks the gateway to answer for its KIngress. */
export const ProbeValues = {
  /** Ingress readiness: the gateway (or the hop behind it) echoes K-Network-Hash. */
  ingress: 'probe',
  /** queue-proxy's readiness, asked by the kubelet and the activator; answered with body `queue`. */
  queue: 'queue',
  /** The activator's own liveness; answered with body `activator`. */
  activator: 'activator',
  hashOverride: 'override',
} as const;

/** User-Agent prefixes of the probes that queue-proxy answers itself rather than forwarding. */
export const PROBE_USER_AGENTS = {
  kubelet: 'kube-probe/',
  activator: 'Knative-Activator-Probe',
  autoscaler: 'Knative-Autoscaling-Probe',
} as const;

/**
 * Every header a hop sets for the next one. A client must never set them: the gateway, the trust
 * boundary, removes the client's copies before it adds its own, and each hop removes what it does
 * not want the next to believe.
 */
export const INTERNAL_REQUEST_HEADERS: ReadonlySet<string> = new Set(Object.values(HopHeaders));

/** queue-proxy's ports (knative.dev/serving pkg/networking); the activator, standing in for a revision's pods, serves on the same. */
export const QueuePorts = {
  http1: 8012,
  h2c: 8013,
  https: 8112,
  admin: 8022,
  autoscalerMetrics: 9090,
  userMetrics: 9091,
} as const;

/**
 * The names of the serving ports on a revision's private Service, which the activator reads to
 * find the pods' queue-proxy ports (knative.dev/serving pkg/networking ServicePortName*).
 */
export const QueuePortNames = {
  http1: 'http',
  h2c: 'http2',
} as const;

/** On queue-proxy's admin port: answers once the pod has drained (the pod's preStop hook). */
export const WAIT_FOR_DRAIN_PATH = '/wait-for-drain';

/** The environment the Revision controller writes for queue-proxy and queue-proxy reads back. */
export const QueueEnv = {
  namespace: 'SERVING_NAMESPACE',
  service: 'SERVING_SERVICE',
  configuration: 'SERVING_CONFIGURATION',
  revision: 'SERVING_REVISION',
  pod: 'SERVING_POD',
  podIP: 'SERVING_POD_IP',
  servingPort: 'QUEUE_SERVING_PORT',
  userPort: 'USER_PORT',
  containerConcurrency: 'CONTAINER_CONCURRENCY',
  timeoutSeconds: 'REVISION_TIMEOUT_SECONDS',
  responseStartTimeoutSeconds: 'REVISION_RESPONSE_START_TIMEOUT_SECONDS',
  idleTimeoutSeconds: 'REVISION_IDLE_TIMEOUT_SECONDS',
  systemNamespace: 'SYSTEM_NAMESPACE',
  readinessProbe: 'SERVING_READINESS_PROBE',
  http2AutoDetection: 'ENABLE_HTTP2_AUTO_DETECTION',
  multiContainerProbes: 'ENABLE_MULTI_CONTAINER_PROBES',
  /** config-logging's zap-logger-config, as JSON with its level: the level unless the next overrides it. */
  loggingConfig: 'SERVING_LOGGING_CONFIG',
  /** config-logging's loglevel.queueproxy; empty when not set. */
  loggingLevel: 'SERVING_LOGGING_LEVEL',
  /** The DNS name whose addresses are the activators' pods (a headless Service); unset: no announce. */
  announceHost: 'ACTIVATOR_ANNOUNCE_HOST',
  /** The revision's announce token (lib/announce.ts), which the activators recompute. */
  announceToken: 'ACTIVATOR_ANNOUNCE_TOKEN',
} as const;

/**
 * queue-proxy announces its pod to every activator once the user container first answers its
 * readiness probe, so a request held at zero need not wait for the pod's Endpoints:
 * `POST ANNOUNCE_PATH` on ANNOUNCE_PORT of each activator pod with an AnnounceBody as JSON. The
 * activator takes the pod's address from the connection, never from the body, and probes it like
 * any pod before it sends it traffic. A port of its own, which no Service the gateway routes to
 * exposes.
 */
export const ANNOUNCE_PORT = 8015;
export const ANNOUNCE_PATH = '/announce';

export interface AnnounceBody {
  namespace: string;
  revision: string;
  token: string;
}

/**
 * Where each component serves its Prometheus metrics, GET /metrics in the text format: the one
 * list the chart's Services, a ServiceMonitor and the dashboard (charts/pilotlight/dashboards)
 * follow. queue-proxy's are on its user-metrics port; its autoscaler-metrics port serves the
 * autoscaler's per-pod Stat, not Prometheus series.
 */
export const MetricsPorts = {
  controller: 9090,
  autoscaler: 9090,
  activator: 9090,
  /** On the gateway's admin port, beside /healthz, /readyz and /revisions/stats. */
  gateway: 8090,
  queueProxy: QueuePorts.userMetrics,
} as const;
