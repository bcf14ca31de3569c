// activator: holds requests for revisions without ready capacity (scaled to zero, or below
// target burst capacity), tells the autoscaler at once, and forwards each request to a pod as
// soon as one answers a probe (S:cmd/activator/main.go).
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { realClock, sleep, type Clock } from '../lib/clock.ts';
import { parseGoDuration } from '../lib/config/duration.ts';
import {
  connectionLimitsProblem,
  DEFAULT_CONNECTION_LIMITS,
  HttpListener,
  type ConnectionLimits,
} from '../lib/http/server.ts';
import { finishInFlight } from '../lib/http/inFlight.ts';
import { DEFAULT_UPGRADE_IDLE_MS } from '../lib/http/upgrade.ts';
import { ANNOUNCE_KEY_SECRET } from '../lib/announce.ts';
import { ANNOUNCE_PORT, MetricsPorts, QueuePorts } from '../lib/hop.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createRegistry, serveMetrics } from '../lib/metrics.ts';
import { Announcements } from './announced.ts';
import { fileAnnounceKey, secretAnnounceKey, type AnnounceKey } from './announceKey.ts';
import { createAnnounceServer, listenAnnounceServer } from './announceServer.ts';
import type { PodSource } from './backends.ts';
import { ActivatorHandler } from './handler.ts';
import { ActivatorMetrics } from './metrics.ts';
import { Revisions } from './revisions.ts';
import { followLogLevel } from '../lib/config/logging.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { KubePodSource } from './kubeSource.ts';
import { StaticPodSource } from './staticSource.ts';
import { ConcurrencyReporter, HttpStatsReporter, type StatsReporter } from './stats.ts';

/** Knative's stats reporting period (S:pkg/activator/handler/concurrency_reporter.go). */
const REPORTING_PERIOD_MS = 1000;

export interface ActivatorConfig {
  /** Pod name reported with every stat. */
  name: string;
  bindAddress: string;
  port: number;
  /**
   * The port the activator Service names `http2` (Knative's 8013), which revisions that speak
   * h2c are sent to in Proxy mode. Both ports accept HTTP/1.1 and h2c.
   */
  h2cPort: number;
  metricsPort: number;
  /** Where stats are POSTed (see stats.ts); none: stats are only exported as metrics. */
  statsUrl: string | undefined;
  /** Requests one revision may hold beyond its capacity (Knative's breaker queue depth). */
  queueDepth: number;
  /** After SIGTERM, how long to keep accepting while load balancers notice (Knative: 45s). */
  drainQuietPeriodMs: number;
  /** Then, how long accepted requests may take to finish before connections are cut. */
  drainTimeoutMs: number;
  /** Headers, keep-alive and request-receive bounds of both serving ports. */
  connectionLimits: ConnectionLimits;
  /** A websocket tunnel with no byte either way for this long is closed; 0: off. */
  upgradeIdleTimeoutMs: number;
  /** Where queue-proxies announce their pods (announceServer.ts); never a serving port. */
  announcePort: number;
}

export interface RunningActivator {
  port: number;
  h2cPort: number;
  metricsPort: number;
  announcePort: number;
  shutdown(): Promise<void>;
}

export async function startActivator(
  config: ActivatorConfig,
  source: PodSource,
  log: Logger,
  /** Checks announce tokens; without it every announce is refused (503). */
  announceKey: AnnounceKey | undefined,
  clock: Clock = realClock,
): Promise<RunningActivator> {
  const registry = createRegistry('activator');
  const metrics = new ActivatorMetrics(registry, function* () {
    for (const revision of revisions.values()) {
      const throttler = revision.throttler;
      yield [
        revision.namespace,
        revision.name,
        {
          queued: () => throttler.breaker.queued,
          active: () => revision.active,
          servingFromReserved: () => throttler.servingMode === 'reserved',
        },
      ];
    }
  });
  const revisions = new Revisions({
    queueDepth: config.queueDepth,
    clock,
    log,
    random: Math.random,
    events: {
      podHealthy: (revision, pod, waiting, reserved) =>
        log.info('pod answered its probe; releasing held requests', {
          revision,
          pod,
          waiting,
          ...(reserved ? { reserved } : {}),
        }),
      servingModeChanged: (revision, from, to, waiting) => {
        log.info('serving mode changed', { revision, from, to, waiting });
        const slash = revision.indexOf('/');
        metrics.servingModeChanged(revision.slice(0, slash), revision.slice(slash + 1), from, to);
      },
    },
  });
  const reporter: StatsReporter =
    config.statsUrl === undefined
      ? { report() {}, close: () => Promise.resolve() }
      : new HttpStatsReporter(config.statsUrl, log, metrics);
  const concurrency = new ConcurrencyReporter(config.name, reporter, metrics);
  const reportTicker = setInterval(() => concurrency.tick(clock.now()), REPORTING_PERIOD_MS);
  const handler = new ActivatorHandler({
    revisions,
    concurrency,
    metrics,
    clock,
    log,
    upgradeIdleTimeoutMs: config.upgradeIdleTimeoutMs,
  });
  const newListener = () =>
    new HttpListener({
      onRequest: handler.handleRequest,
      onUpgrade: handler.handleUpgrade,
      limits: config.connectionLimits,
    });
  const listeners = [newListener(), newListener()] as const;

  const announcements = new Announcements(revisions, { clock, log });
  const announceServer = createAnnounceServer({
    announce: (key, ip) => announcements.announce(key, ip),
    key: () => announceKey?.current(),
    log,
  });

  await source.start(announcements);
  const [port, h2cPort, metricsServer, announcePort] = await Promise.all([
    listeners[0].listen(config.port, config.bindAddress),
    listeners[1].listen(config.h2cPort, config.bindAddress),
    serveMetrics(registry, config.metricsPort, config.bindAddress),
    listenAnnounceServer(announceServer, config.announcePort, config.bindAddress),
  ]);

  const shutdown = async () => {
    handler.draining = true;
    // Gateways' kept-alive connections move to the other activators while endpoints catch up.
    for (const listener of listeners) listener.closeConnectionsAfterResponses();
    log.info('draining', { quietPeriodMs: config.drainQuietPeriodMs, open: handler.inFlight.open });
    await sleep(clock, config.drainQuietPeriodMs);
    await finishInFlight(handler.inFlight, listeners, { clock, timeoutMs: config.drainTimeoutMs, log });
    clearInterval(reportTicker);
    concurrency.tick(clock.now());
    announceKey?.stop();
    announcements.close();
    await Promise.all([
      source.stop(),
      revisions.close(),
      reporter.close(),
      closeServer(metricsServer),
      closeServer(announceServer),
    ]);
    log.info('drained');
  };
  let shuttingDown: Promise<void> | undefined;
  return {
    port,
    h2cPort,
    metricsPort: addressPort(metricsServer),
    announcePort,
    shutdown: () => (shuttingDown ??= shutdown()),
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function addressPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

const USAGE = `pilotlight activator [flags]
  --port N                  serving port (default 8012)
  --h2c-port N              serving port for revisions that speak h2c (default 8013); both take HTTP/1.1 and h2c
  --bind ADDRESS            address for every port (default 0.0.0.0)
  --metrics-port N          Prometheus metrics (default ${MetricsPorts.activator})
  --announce-port N         where queue-proxies announce their pods, never a serving port (default ${ANNOUNCE_PORT})
  --announce-key-file FILE  check announce tokens with this key (32 bytes or more) rather than the
                            kubernetes source's Secret ${ANNOUNCE_KEY_SECRET}; with the static source and
                            without it, every announce is refused
  --pod-source SOURCE       kubernetes (default): Revisions and private Endpoints, see kubeSource.ts;
                            static: revisions set through an admin endpoint, see staticSource.ts
  --kubeconfig FILE         for the kubernetes source (default: in-cluster or $KUBECONFIG)
  --admin-port N            the static source's admin port (default 8014), bound to --bind
  --stats-url URL           POST stats here as JSON (see activator/stats.ts)
  --name NAME               reported as the stats' pod name (default $POD_NAME or the host name)
  --queue-depth N           requests held per revision beyond capacity (default 10000)
  --drain-quiet-period D    keep accepting this long after SIGTERM (default 45s)
  --drain-timeout D         then wait this long for accepted requests (default 10m, Knative's activator)
  --max-header-bytes N      larger request heads (HTTP/1.1) or header lists (HTTP/2) get 431 (default 16384)
  --headers-timeout D       a client must send a request's headers within this (default 60s, Knative's ReadHeaderTimeout)
  --request-receive-timeout D  ... and the whole request within this; 0: off, the revision's timeouts bound it (default 0)
  --keep-alive-timeout D    close a connection or HTTP/2 session without requests after this (default 65s)
  --upgrade-idle-timeout D  close a websocket tunnel idle both ways for this long; 0: off (default 5m, Envoy's
                            stream idle timeout); the wait for the 101 is bounded by the revision's timeoutSeconds`;

function duration(flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const value = parseGoDuration(text);
  if (value === undefined || value < 0)
    throw new Error(`--${flag}: expected a duration such as 500ms, 30s or 5m, got ${text}\n${USAGE}`);
  return value;
}

function integer(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`--${flag}: expected a whole number ≥ 0, got ${text}\n${USAGE}`);
  return value;
}

/** `pilotlight activator`: runs until SIGTERM has been handled. */
export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'h2c-port': { type: 'string' },
      bind: { type: 'string' },
      'metrics-port': { type: 'string' },
      'announce-port': { type: 'string' },
      'announce-key-file': { type: 'string' },
      'pod-source': { type: 'string' },
      kubeconfig: { type: 'string' },
      'admin-port': { type: 'string' },
      'stats-url': { type: 'string' },
      name: { type: 'string' },
      'queue-depth': { type: 'string' },
      'drain-quiet-period': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'max-header-bytes': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-receive-timeout': { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      'upgrade-idle-timeout': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config: ActivatorConfig = {
    name: values.name ?? process.env.POD_NAME ?? hostname(),
    bindAddress: values.bind ?? '0.0.0.0',
    port: integer('port', values.port, QueuePorts.http1),
    h2cPort: integer('h2c-port', values['h2c-port'], QueuePorts.h2c),
    metricsPort: integer('metrics-port', values['metrics-port'], MetricsPorts.activator),
    statsUrl: values['stats-url'],
    queueDepth: integer('queue-depth', values['queue-depth'], 10_000),
    drainQuietPeriodMs: duration('drain-quiet-period', values['drain-quiet-period'], 45_000),
    drainTimeoutMs: duration('drain-timeout', values['drain-timeout'], 600_000),
    connectionLimits: {
      maxHeaderBytes: integer('max-header-bytes', values['max-header-bytes'], DEFAULT_CONNECTION_LIMITS.maxHeaderBytes),
      headersTimeoutMs: duration(
        'headers-timeout',
        values['headers-timeout'],
        DEFAULT_CONNECTION_LIMITS.headersTimeoutMs,
      ),
      requestReceiveTimeoutMs: duration(
        'request-receive-timeout',
        values['request-receive-timeout'],
        DEFAULT_CONNECTION_LIMITS.requestReceiveTimeoutMs,
      ),
      keepAliveTimeoutMs: duration(
        'keep-alive-timeout',
        values['keep-alive-timeout'],
        DEFAULT_CONNECTION_LIMITS.keepAliveTimeoutMs,
      ),
    },
    upgradeIdleTimeoutMs: duration('upgrade-idle-timeout', values['upgrade-idle-timeout'], DEFAULT_UPGRADE_IDLE_MS),
    announcePort: integer('announce-port', values['announce-port'], ANNOUNCE_PORT),
  };
  const problem = connectionLimitsProblem(config.connectionLimits, {
    maxHeaderBytes: '--max-header-bytes',
    headersTimeoutMs: '--headers-timeout',
    requestReceiveTimeoutMs: '--request-receive-timeout',
    keepAliveTimeoutMs: '--keep-alive-timeout',
  });
  if (problem !== undefined) throw new Error(`${problem}\n${USAGE}`);
  const log = createLogger('activator', { pod: config.name });
  const sourceKind = values['pod-source'] ?? 'kubernetes';
  let source: PodSource;
  let staticSource: StaticPodSource | undefined;
  const keyFile = values['announce-key-file'];
  let announceKey = keyFile === undefined ? undefined : fileAnnounceKey(keyFile);
  if (sourceKind === 'static') {
    source = staticSource = new StaticPodSource(integer('admin-port', values['admin-port'], 8014), config.bindAddress);
  } else if (sourceKind === 'kubernetes') {
    const client = createKubeRest(loadKubeConnection(values.kubeconfig));
    const kubeSource = new KubePodSource(client, log);
    source = kubeSource;
    const systemNamespace = process.env.SYSTEM_NAMESPACE ?? 'knative-serving';
    announceKey ??= secretAnnounceKey(client, systemNamespace, realClock, log.with({ part: 'announce' }));
    followLogLevel({
      informers: kubeSource.informers,
      namespace: systemNamespace,
      component: 'activator',
      log: log.with({ part: 'logging' }),
    });
  } else {
    throw new Error(`--pod-source: unknown source ${sourceKind}\n${USAGE}`);
  }
  const activator = await startActivator(config, source, log, announceKey);
  log.info('activator started', {
    port: activator.port,
    h2cPort: activator.h2cPort,
    metricsPort: activator.metricsPort,
    announcePort: activator.announcePort,
    podSource: sourceKind,
    ...(staticSource === undefined ? {} : { adminPort: staticSource.port }),
  });
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await activator.shutdown();
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: Error) => {
      createLogger('activator').error('activator failed', { error });
      process.exit(1);
    },
  );
}
