// queue-proxy: the sidecar in every revision pod. It admits traffic to the user container
// within containerConcurrency, enforces the revision's timeouts, reports concurrency and
// request rate to the autoscaler, answers readiness for the pod, and drains on SIGTERM.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher, H2CClient } from 'undici';
import { realClock, type Clock } from '../lib/clock.ts';
import { http } from '../lib/http/builtins.ts';
import { NodeDispatcher } from '../lib/http/nodeDispatcher.ts';
import type { Dispatch } from '../lib/http/proxy.ts';
import { HttpListener } from '../lib/http/server.ts';
import { finishInFlight } from '../lib/http/inFlight.ts';
import { WAIT_FOR_DRAIN_PATH } from '../lib/hop.ts';
import { createLogger, setLogLevel, type Logger } from '../lib/log.ts';
import { Breaker } from '../lib/breaker.ts';
import { parseConfig, type QueueProxyConfig } from './config.ts';
import { Drainer } from './drain.ts';
import { Pipeline } from './handler.ts';
import { prepareAnnounce } from './announce.ts';
import { Readiness } from './readiness.ts';
import { RequestStats } from '../lib/stats/requestStats.ts';
import { AutoscalerStatsReporter } from './stats.ts';
import { serveMetrics } from './prometheus.ts';
import { UserMetrics } from './userMetrics.ts';

export interface QueueProxyPorts {
  serving: number;
  admin: number;
  autoscalerMetrics: number;
  userMetrics: number;
}

export interface RunningQueueProxy {
  ports: QueueProxyPorts;
  /** Drains (quiet period, then in-flight requests within the drain timeout) and closes everything. */
  shutdown(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * h2c to the user container, for requests that arrive over HTTP/2. undici's H2CClient is loaded
 * on the first such request: few apps speak h2c, and undici costs every process ≈13 MiB.
 */
class LazyH2CUpstream implements Dispatch {
  #origin: string;
  #client: Promise<H2CClient> | undefined;
  #loaded: H2CClient | undefined;

  constructor(origin: string) {
    this.#origin = origin;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#loaded !== undefined) return this.#loaded.dispatch(options, handler);
    // Timeouts are the revision's business (see Pipeline), so undici's own are off.
    this.#client ??= import('undici').then(
      ({ H2CClient }) => (this.#loaded = new H2CClient(this.#origin, { headersTimeout: 0, bodyTimeout: 0 })),
    );
    void this.#client.then((client) => client.dispatch(options, handler));
    return true;
  }

  async destroy(): Promise<void> {
    await (await this.#client)?.destroy();
  }
}

/** Starts every server of one queue-proxy. */
export async function startQueueProxy(
  config: QueueProxyConfig,
  log: Logger,
  clock: Clock = realClock,
): Promise<RunningQueueProxy> {
  let terminating = false;
  // Node's Agent has no timeouts of its own: they are the revision's business (see Pipeline).
  const upstream = new NodeDispatcher('127.0.0.1', config.userPort, config.containerConcurrency);
  const h2cUpstream = new LazyH2CUpstream(`http://127.0.0.1:${config.userPort}`);
  const breaker =
    config.containerConcurrency > 0 ? new Breaker(config.containerConcurrency, config.queueDepth) : undefined;
  const stats = new RequestStats(clock.now());
  const drainer = new Drainer(config.drainQuietPeriodMs, clock);
  const announce =
    config.announce &&
    prepareAnnounce(
      {
        host: config.announce.host,
        port: config.announce.port,
        body: { namespace: config.namespace, revision: config.revision, token: config.announce.token },
      },
      log,
    );
  const readiness = new Readiness(config.readinessProbes, config.startupProbeIntervalMs, clock, log, () => {
    if (announce && !terminating) void announce();
  });

  const reporter = new AutoscalerStatsReporter(config, config.reportingPeriodMs, clock.now());
  const reportTicker = setInterval(() => {
    const now = clock.now();
    reporter.report(stats.report(now), now);
  }, config.reportingPeriodMs);
  const userMetrics = new UserMetrics(breaker, config);

  const pipeline = new Pipeline({
    upstream,
    h2cUpstream,
    breaker,
    stats,
    drainer,
    readiness,
    userMetrics,
    clock,
    log,
    timeouts: {
      firstByteMs: config.timeoutMs,
      responseStartMs: config.responseStartTimeoutMs,
      idleMs: config.idleTimeoutMs,
    },
    upgradeIdleTimeoutMs: config.upgradeIdleTimeoutMs,
  });
  const listener = new HttpListener({
    onRequest: pipeline.handleRequest,
    onUpgrade: pipeline.handleUpgrade,
    limits: config.connectionLimits,
  });

  // The user container's preStop hook: it returns once draining is complete, so the app gets
  // its SIGTERM only after queue-proxy stopped sending it traffic.
  const admin = http.createServer((req, res) => {
    if (req.url?.split('?')[0] !== WAIT_FOR_DRAIN_PATH) {
      res.writeHead(404).end();
      return;
    }
    log.info('preStop hook is waiting for drain');
    // Without a SIGTERM soon after, the app is being restarted by its liveness probe: stop draining.
    clock.setTimeout(() => {
      if (!terminating) drainer.reset();
    }, 1000);
    void drainer.drain().then(() => res.writeHead(200).end());
  });

  const host = config.bindAddress;
  const [serving, adminPort, autoscalerMetrics, userMetricsServer] = await Promise.all([
    listener.listen(config.servingPort, host),
    listen(admin, config.adminPort, host),
    serveMetrics(() => reporter.text(), config.autoscalerMetricsPort, host),
    serveMetrics(() => userMetrics.text(), config.userMetricsPort, host),
  ]);
  const ports: QueueProxyPorts = {
    serving,
    admin: adminPort,
    autoscalerMetrics: (autoscalerMetrics.address() as AddressInfo).port,
    userMetrics: (userMetricsServer.address() as AddressInfo).port,
  };
  readiness.start();

  let shuttingDown: Promise<void> | undefined;
  const shutdown = async () => {
    terminating = true;
    log.info('draining', { quietPeriodMs: config.drainQuietPeriodMs });
    await drainer.drain();
    const pending = await finishInFlight(pipeline.inFlight, [listener], {
      clock,
      timeoutMs: config.drainTimeoutMs,
      log,
    });
    readiness.stop();
    clearInterval(reportTicker);
    await Promise.all([closeServer(admin), closeServer(autoscalerMetrics), closeServer(userMetricsServer)]);
    upstream.destroy();
    await h2cUpstream.destroy();
    log.info('drained', { requestsAtQuietEnd: pending });
  };
  return { ports, shutdown: () => (shuttingDown ??= shutdown()) };
}

/** `pilotlight queue-proxy`: configured from the environment; runs until SIGTERM has been handled. */
export async function main(argv: string[]): Promise<void> {
  if (argv.length > 0)
    throw new Error(`queue-proxy takes no arguments (configuration is in the environment), got: ${argv.join(' ')}`);
  const bootLog = createLogger('queue-proxy');
  const config = parseConfig(process.env);
  setLogLevel(config.logLevel);
  const log = bootLog.with({ revision: `${config.namespace}/${config.revision}`, pod: config.pod });
  const proxy = await startQueueProxy(config, log);
  log.info('queue-proxy started', {
    service: config.service,
    podIP: config.podIP,
    servingPort: proxy.ports.serving,
    adminPort: proxy.ports.admin,
    autoscalerMetricsPort: proxy.ports.autoscalerMetrics,
    userMetricsPort: proxy.ports.userMetrics,
    containerConcurrency: config.containerConcurrency,
    queueDepth: config.queueDepth,
  });
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await proxy.shutdown();
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: Error) => {
      createLogger('queue-proxy').error('queue-proxy failed', { error });
      process.exit(1);
    },
  );
}
