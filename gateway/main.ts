// `pilotlight gateway`: the L7 gateway that realises KIngresses of class
// pilotlight.ingress.networking.knative.dev. It routes by host (and path, headers) to the splits'
// endpoints and splits traffic by percent, exactly per window of 100 requests.
//
// Ports (Kourier's layout for the traffic ports):
//   --external-port 8080   ExternalIP hosts (the public side)
//   --external-tls-port 8443  ExternalIP hosts of KIngress spec.tls entries, over TLS (SNI, h2/http1.1)
//   --internal-port 8081   ClusterLocal hosts and every ExternalIP host (in-cluster clients)
//   --internal-tls-port 8444  ClusterLocal hosts of KIngress spec.tls entries, over TLS (cluster-local-domain-tls)
//     (--default-certificate NS/NAME: a Secret for the public hosts it names that have no spec.tls entry)
//   --admin-port    8090   /healthz, /readyz, /metrics, /revisions/stats (revisionStats.ts)
// Routing comes from Kubernetes (`--source kubernetes`, the default) or from a file
// (`--source static --routes-file PATH`, see sources/static.ts). Every flag is listed in FLAGS.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { realClock, sleep, type Clock } from '../lib/clock.ts';
import { parseGoDuration } from '../lib/config/duration.ts';
import { MetricsPorts } from '../lib/hop.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createRegistry } from '../lib/metrics.ts';
import { GatewayMetrics } from './metrics.ts';
import { GatewayProxy } from './proxy.ts';
import { finishInFlight } from '../lib/http/inFlight.ts';
import { connectionLimitsProblem, type ConnectionLimitNames, type ConnectionLimits } from '../lib/http/server.ts';
import { revisionStatsAnswer, RevisionStats } from './revisionStats.ts';
import { createAdminServer, GatewayListener, listenAdmin } from './server.ts';
import { StaticFileSource } from './sources/static.ts';
import { RoutingSync, type LiveRouting, type RoutingSource } from './sync.ts';
import { contextFor, httpsRedirectLocation } from './tls.ts';
import { UpstreamPools } from './upstreams.ts';

export const FLAGS = {
  source: { type: 'string', default: 'kubernetes' },
  'routes-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  // Default: every namespace.
  'watch-namespace': { type: 'string' },
  bind: { type: 'string', default: '0.0.0.0' },
  'external-port': { type: 'string', default: '8080' },
  'external-tls-port': { type: 'string', default: '8443' },
  'internal-port': { type: 'string', default: '8081' },
  'internal-tls-port': { type: 'string', default: '8444' },
  // <namespace>/<name> of a kubernetes.io/tls Secret (Kourier's certs-secret-namespace/-name).
  'default-certificate': { type: 'string' },
  'admin-port': { type: 'string', default: String(MetricsPorts.gateway) },
  // Node's own default; Envoy allows 60 KiB.
  'max-header-bytes': { type: 'string', default: '16384' },
  // 0: no limit, as Kourier.
  'max-body-bytes': { type: 'string', default: '0' },
  'headers-timeout': { type: 'string', default: '60s' },
  'request-receive-timeout': { type: 'string', default: '5m' },
  // Kourier sets no route timeout: the revision's queue-proxy enforces timeoutSeconds.
  'request-timeout': { type: 'string', default: '0' },
  // Envoy's default stream idle timeout.
  'idle-timeout': { type: 'string', default: '5m' },
  // Upgrades (websockets): with Kourier's route timeout off, Envoy's stream idle timeout bounds
  // both the wait for the 101 and an idle tunnel.
  'upgrade-response-timeout': { type: 'string', default: '5m' },
  'upgrade-idle-timeout': { type: 'string', default: '5m' },
  'keep-alive-timeout': { type: 'string', default: '65s' },
  'upstream-connect-timeout': { type: 'string', default: '5s' },
  'upstream-keep-alive-timeout': { type: 'string', default: '30s' },
  'max-retries': { type: 'string', default: '2' },
  'drain-quiet-period': { type: 'string', default: '0' },
  'drain-timeout': { type: 'string', default: '30s' },
  // Log one request in N; 0: access log off.
  'access-log-every': { type: 'string', default: '0' },
  'cluster-domain': { type: 'string', default: 'cluster.local' },
  debounce: { type: 'string', default: '50ms' },
  // Status written to KIngresses (Kubernetes source): the gateway's Service names.
  'public-address': { type: 'string', default: 'pilotlight-gateway.pilotlight-system.svc.cluster.local' },
  'private-address': { type: 'string', default: 'pilotlight-gateway-internal.pilotlight-system.svc.cluster.local' },
  'lease-namespace': { type: 'string', default: 'pilotlight-system' },
  'lease-name': { type: 'string', default: 'pilotlight-gateway' },
  identity: { type: 'string' },
  // The longest window /revisions/stats can answer for, kept in 60 buckets.
  'revision-stats-window': { type: 'string', default: '5m' },
} as const;

export interface GatewayFlags {
  source: 'kubernetes' | 'static';
  routesFile: string | undefined;
  kubeconfig: string | undefined;
  watchNamespace: string | undefined;
  bind: string;
  externalPort: number;
  externalTlsPort: number;
  internalPort: number;
  internalTlsPort: number;
  /** `secretKey` of the default certificate, when one is set. */
  defaultCertificate: string | undefined;
  adminPort: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
  headersTimeoutMs: number;
  requestReceiveTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  upgradeResponseTimeoutMs: number;
  upgradeIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  upstreamConnectTimeoutMs: number;
  upstreamKeepAliveTimeoutMs: number;
  maxRetries: number;
  drainQuietPeriodMs: number;
  drainTimeoutMs: number;
  accessLogEvery: number;
  clusterDomain: string;
  debounceMs: number;
  publicAddress: string;
  privateAddress: string;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  revisionStatsWindowMs: number;
}

export function parseFlags(argv: string[]): GatewayFlags {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  const integer = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`--${name}: ${String(values[name])} is not a non-negative integer`);
    return value;
  };
  const duration = (name: keyof typeof values): number => {
    const value = parseGoDuration(String(values[name]));
    if (value === undefined || value < 0)
      throw new Error(`--${name}: ${String(values[name])} is not a duration such as 500ms, 30s or 5m`);
    return value;
  };
  const source = values.source;
  if (source !== 'kubernetes' && source !== 'static')
    throw new Error(`--source: ${source} is neither kubernetes nor static`);
  if (source === 'static' && !values['routes-file']) throw new Error('--source static needs --routes-file');
  const defaultCertificate = values['default-certificate'] || undefined;
  if (defaultCertificate !== undefined && !/^[a-z0-9.-]+\/[a-z0-9.-]+$/.test(defaultCertificate))
    throw new Error(`--default-certificate: ${defaultCertificate} is not <namespace>/<secret name>`);
  const flags: GatewayFlags = {
    source,
    routesFile: values['routes-file'],
    kubeconfig: values.kubeconfig,
    watchNamespace: values['watch-namespace'],
    bind: values.bind,
    externalPort: integer('external-port'),
    externalTlsPort: integer('external-tls-port'),
    internalPort: integer('internal-port'),
    internalTlsPort: integer('internal-tls-port'),
    defaultCertificate,
    adminPort: integer('admin-port'),
    maxHeaderBytes: integer('max-header-bytes'),
    maxBodyBytes: integer('max-body-bytes'),
    headersTimeoutMs: duration('headers-timeout'),
    requestReceiveTimeoutMs: duration('request-receive-timeout'),
    requestTimeoutMs: duration('request-timeout'),
    idleTimeoutMs: duration('idle-timeout'),
    upgradeResponseTimeoutMs: duration('upgrade-response-timeout'),
    upgradeIdleTimeoutMs: duration('upgrade-idle-timeout'),
    keepAliveTimeoutMs: duration('keep-alive-timeout'),
    upstreamConnectTimeoutMs: duration('upstream-connect-timeout'),
    upstreamKeepAliveTimeoutMs: duration('upstream-keep-alive-timeout'),
    maxRetries: integer('max-retries'),
    drainQuietPeriodMs: duration('drain-quiet-period'),
    drainTimeoutMs: duration('drain-timeout'),
    accessLogEvery: integer('access-log-every'),
    clusterDomain: values['cluster-domain'],
    debounceMs: duration('debounce'),
    publicAddress: values['public-address'],
    privateAddress: values['private-address'],
    leaseNamespace: values['lease-namespace'],
    leaseName: values['lease-name'],
    identity: values.identity ?? process.env.POD_NAME ?? hostname(),
    revisionStatsWindowMs: duration('revision-stats-window'),
  };
  const problem = connectionLimitsProblem(connectionLimits(flags), LIMIT_FLAGS);
  if (problem !== undefined) throw new Error(problem);
  return flags;
}

const LIMIT_FLAGS: ConnectionLimitNames = {
  maxHeaderBytes: '--max-header-bytes',
  headersTimeoutMs: '--headers-timeout',
  requestReceiveTimeoutMs: '--request-receive-timeout',
  keepAliveTimeoutMs: '--keep-alive-timeout',
};

const connectionLimits = (flags: GatewayFlags): ConnectionLimits => ({
  maxHeaderBytes: flags.maxHeaderBytes,
  headersTimeoutMs: flags.headersTimeoutMs,
  requestReceiveTimeoutMs: flags.requestReceiveTimeoutMs,
  keepAliveTimeoutMs: flags.keepAliveTimeoutMs,
});
const REVISION_STATS_BUCKETS = 60;

export interface GatewayPorts {
  external: number;
  externalTls: number;
  internal: number;
  internalTls: number;
  admin: number;
}

export interface RunningGateway {
  ports: GatewayPorts;
  /** Stops accepting, lets requests in progress finish within the drain timeout, then closes everything. */
  shutdown(): Promise<void>;
}

interface SourceWithStatus {
  source: RoutingSource;
  /** Told of every table that went live, to publish Ingress status. */
  onSwap?: (live: LiveRouting) => void;
  stop?: () => Promise<void>;
}

async function createSource(flags: GatewayFlags, log: Logger, clock: Clock): Promise<SourceWithStatus> {
  if (flags.source === 'static')
    return { source: new StaticFileSource(flags.routesFile!, log.with({ source: 'static' })) };
  // Loaded only here, so the static mode starts without the Kubernetes client.
  const { startKubernetesSource } = await import('./sources/kubernetes.ts');
  return startKubernetesSource(flags, log.with({ source: 'kubernetes' }), clock);
}

export async function startGateway(
  flags: GatewayFlags,
  log: Logger,
  clock: Clock = realClock,
): Promise<RunningGateway> {
  const registry = createRegistry('gateway', true, 1000);
  const revisionStats = new RevisionStats(clock, {
    bucketMs: Math.max(1, Math.ceil(flags.revisionStatsWindowMs / REVISION_STATS_BUCKETS)),
    buckets: REVISION_STATS_BUCKETS,
  });
  const metrics = new GatewayMetrics(registry, revisionStats);
  const pools = new UpstreamPools({
    clock,
    connectTimeoutMs: flags.upstreamConnectTimeoutMs,
    keepAliveTimeoutMs: flags.upstreamKeepAliveTimeoutMs,
  });
  const { source, onSwap, stop: stopStatus } = await createSource(flags, log, clock);
  const sync: RoutingSync = new RoutingSync({
    source,
    debounceMs: flags.debounceMs,
    clusterDomain: flags.clusterDomain,
    ...(flags.defaultCertificate ? { defaultCertificate: flags.defaultCertificate } : {}),
    clock,
    log,
    onSwap: (live) => {
      void pools.retain(live.table);
      log.info('routing table live', {
        ingresses: live.snapshot.ingresses.length,
        hosts: live.table.internal.size,
        upstreams: live.table.upstreams.size,
      });
      onSwap?.(live);
    },
  });
  const proxy = new GatewayProxy({
    routing: () => sync.live,
    pools,
    metrics,
    clock,
    log,
    limits: {
      maxBodyBytes: flags.maxBodyBytes,
      timeouts: { firstByteMs: flags.requestTimeoutMs, responseStartMs: 0, idleMs: flags.idleTimeoutMs },
      maxRetries: flags.maxRetries,
      upgradeTimeouts: { responseMs: flags.upgradeResponseTimeoutMs, idleMs: flags.upgradeIdleTimeoutMs },
    },
    accessLog: flags.accessLogEvery > 0 ? { every: flags.accessLogEvery, log: log.with({ log: 'access' }) } : undefined,
  });
  const clientLimits = connectionLimits(flags);
  const external = new GatewayListener('external', proxy, clientLimits, {
    httpsRedirect: (host, url) => httpsRedirectLocation(sync.live.tls, host, url),
  });
  // Over TLS a request routes as on the plain listener of the same side: the certificate decided the hosts.
  const externalTls = new GatewayListener('external', proxy, clientLimits, {
    tls: { contextFor: (serverName) => contextFor(sync.live.tls, 'external', serverName) },
  });
  const internal = new GatewayListener('internal', proxy, clientLimits);
  const internalTls = new GatewayListener('internal', proxy, clientLimits, {
    tls: { contextFor: (serverName) => contextFor(sync.live.tls, 'internal', serverName) },
  });
  const listeners = [external, externalTls, internal, internalTls];
  let draining = false;
  const admin = createAdminServer({ ready: () => sync.ready && !draining }, registry, {
    '/revisions/stats': (query) => revisionStatsAnswer(revisionStats, query),
  });

  await sync.start();
  const ports: GatewayPorts = {
    external: await external.listen(flags.externalPort, flags.bind),
    externalTls: await externalTls.listen(flags.externalTlsPort, flags.bind),
    internal: await internal.listen(flags.internalPort, flags.bind),
    internalTls: await internalTls.listen(flags.internalTlsPort, flags.bind),
    admin: await listenAdmin(admin, flags.adminPort, flags.bind),
  };

  const shutdown = async () => {
    draining = true;
    // Time for load balancers to see /readyz fail (and kube-proxy the endpoint go) before the
    // ports stop accepting; meanwhile kept-alive clients are moved off, one response at a time.
    for (const listener of listeners) listener.closeConnectionsAfterResponses();
    if (flags.drainQuietPeriodMs > 0) await sleep(clock, flags.drainQuietPeriodMs);
    const open = await finishInFlight(proxy.inFlight, listeners, { clock, timeoutMs: flags.drainTimeoutMs, log });
    await sync.stop();
    await stopStatus?.();
    await pools.destroy();
    admin.closeAllConnections();
    await new Promise((resolve) => admin.close(resolve));
    log.info('gateway drained', { openAtShutdown: open });
  };
  let shuttingDown: Promise<void> | undefined;
  return { ports, shutdown: () => (shuttingDown ??= shutdown()) };
}

/** `pilotlight gateway [flags]`: runs until SIGTERM or SIGINT, then drains. */
export async function main(argv: string[]): Promise<void> {
  const log = createLogger('gateway');
  const flags = parseFlags(argv);
  const gateway = await startGateway(flags, log);
  log.info('gateway started', {
    source: flags.source,
    externalPort: gateway.ports.external,
    externalTlsPort: gateway.ports.externalTls,
    internalPort: gateway.ports.internal,
    internalTlsPort: gateway.ports.internalTls,
    adminPort: gateway.ports.admin,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await gateway.shutdown();
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: Error) => {
      createLogger('gateway').error('gateway failed', { error });
      process.exit(1);
    },
  );
}
