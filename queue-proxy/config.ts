// The queue-proxy's configuration: the environment Knative's revision reconciler gives the
// sidecar (S:pkg/reconciler/revision/resources/queue.go), parsed once, with Knative's defaults.
// Knative hard-codes the admin and metrics ports; they are overridable here so several
// queue-proxies can share a loopback interface in tests. The serving port's connection bounds
// (QUEUE_MAX_HEADER_BYTES, QUEUE_HEADERS_TIMEOUT, QUEUE_REQUEST_RECEIVE_TIMEOUT,
// QUEUE_KEEP_ALIVE_TIMEOUT, QUEUE_UPGRADE_IDLE_TIMEOUT) are pilotlight's own, with the defaults
// the activator and gateway share (Knative's one-minute ReadHeaderTimeout, Envoy's 5m stream
// idle timeout for websockets).
import { parseGoDuration } from '../lib/config/duration.ts';
import { ANNOUNCE_PORT, QueueEnv, QueuePorts } from '../lib/hop.ts';
import { connectionLimitsProblem, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from '../lib/http/server.ts';
import { DEFAULT_UPGRADE_IDLE_MS } from '../lib/http/upgrade.ts';
import { type Level, ZAP_LEVEL_RULE, zapLevel } from '../lib/log.ts';
import { parseReadinessProbes, type ReadinessProbe } from './probe.ts';

// Checked by hand with the rules and messages of lib/config/parse.ts rather than with zod:
// queue-proxy runs in every pod, and loading zod would cost each one ≈15 MiB.
class EnvReader {
  readonly issues: string[] = [];
  #env: Record<string, string | undefined>;

  constructor(env: Record<string, string | undefined>) {
    this.#env = env;
  }

  /** The raw value; an empty variable counts as unset. */
  #value(key: string): string | undefined {
    const value = this.#env[key];
    return value === undefined || value === '' ? undefined : value;
  }

  required(key: string): string {
    const value = this.#value(key);
    if (value === undefined) this.issues.push(`${key}: must be set`);
    return value ?? '';
  }

  string(key: string, fallback: string): string {
    return this.#value(key) ?? fallback;
  }

  int(key: string, fallback: number, rule: { min?: number; max?: number } = {}): number {
    const text = this.#value(key)?.trim();
    if (text === undefined) return fallback;
    if (!/^[-+]?\d+$/.test(text)) return this.#issue(key, 'must be an integer', fallback);
    const value = Number(text);
    if (rule.min !== undefined && value < rule.min) return this.#issue(key, `must be at least ${rule.min}`, fallback);
    if (rule.max !== undefined && value > rule.max) return this.#issue(key, `must be at most ${rule.max}`, fallback);
    return value;
  }

  port(key: string, fallback: number): number {
    return this.int(key, fallback, { min: 0, max: 65535 });
  }

  bool(key: string, fallback: boolean): boolean {
    const text = this.#value(key)?.trim().toLowerCase();
    if (text === undefined) return fallback;
    if (text !== 'true' && text !== 'false') return this.#issue(key, 'must be true or false', fallback);
    return text === 'true';
  }

  /** A Go duration in milliseconds. */
  durationMs<T extends number | undefined>(key: string, fallback: T, minMs = 0): number | T {
    const text = this.#value(key)?.trim();
    if (text === undefined) return fallback;
    const ms = parseGoDuration(text);
    if (ms === undefined) return this.#issue(key, 'must be a duration such as "60s" or "1m30s"', fallback);
    if (ms < minMs) return this.#issue(key, `must be at least ${minMs / 1000}s`, fallback);
    return ms;
  }

  /** As upstream's logger: levelKey's zap level when set, else the level of the zap JSON in configKey, else info. */
  logLevel(configKey: string, levelKey: string): Level {
    const override = this.#value(levelKey);
    if (override !== undefined) return zapLevel(override) ?? this.#issue(levelKey, ZAP_LEVEL_RULE, 'info');
    const text = this.#value(configKey);
    if (text === undefined) return 'info';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null)
      return this.#issue(configKey, 'must be zap\'s JSON configuration, such as {"level": "info"}', 'info');
    const level = (parsed as { level?: unknown }).level;
    if (level === undefined) return 'info';
    return (
      (typeof level === 'string' ? zapLevel(level) : undefined) ??
      this.#issue(configKey, `level ${ZAP_LEVEL_RULE}`, 'info')
    );
  }

  #issue<T>(key: string, message: string, fallback: T): T {
    this.issues.push(`${key}: ${message}`);
    return fallback;
  }
}

export interface QueueProxyConfig {
  namespace: string;
  service: string;
  configuration: string;
  revision: string;
  pod: string;
  podIP: string;
  servingPort: number;
  userPort: number;
  /** 0 means unlimited. */
  containerConcurrency: number;
  /** Knative's breaker queue: ten requests per slot, time for the autoscaler to react. */
  queueDepth: number;
  timeoutMs: number;
  /** 0 when unset. */
  responseStartTimeoutMs: number;
  /** 0 when unset. */
  idleTimeoutMs: number;
  readinessProbes: ReadinessProbe[];
  adminPort: number;
  autoscalerMetricsPort: number;
  userMetricsPort: number;
  bindAddress: string;
  /** After SIGTERM, traffic keeps being served until this long passes with no new request. */
  drainQuietPeriodMs: number;
  /** After the quiet period, how long requests still in progress may take before exit. */
  drainTimeoutMs: number;
  reportingPeriodMs: number;
  startupProbeIntervalMs: number;
  /** The serving port's headers, keep-alive and request-receive bounds (QUEUE_HEADERS_TIMEOUT and co.). */
  connectionLimits: ConnectionLimits;
  /** A websocket tunnel with no byte either way for this long is closed; 0: off. */
  upgradeIdleTimeoutMs: number;
  /** config-logging's level for queue-proxy, fixed for the pod's life as upstream's. */
  logLevel: Level;
  /** Where and with what token the pod is announced once its user container is ready (announce.ts). */
  announce: { host: string; port: number; token: string } | undefined;
}

export class ConfigError extends Error {
  readonly code = 'QUEUE_PROXY_CONFIG';
}

export function parseConfig(env: Record<string, string | undefined>): QueueProxyConfig {
  const read = new EnvReader(env);
  const namespace = read.required(QueueEnv.namespace);
  const service = read.string(QueueEnv.service, '');
  const configuration = read.required(QueueEnv.configuration);
  const revision = read.required(QueueEnv.revision);
  const pod = read.required(QueueEnv.pod);
  const podIP = read.string(QueueEnv.podIP, '');
  const servingPort = read.port(QueueEnv.servingPort, QueuePorts.http1);
  const userPort = read.int(QueueEnv.userPort, 8080, { min: 1, max: 65535 });
  const containerConcurrency = read.int(QueueEnv.containerConcurrency, 0, { min: 0, max: 1000 });
  const timeoutSeconds = read.int(QueueEnv.timeoutSeconds, 300, { min: 0 });
  const responseStartTimeoutSeconds = read.int(QueueEnv.responseStartTimeoutSeconds, 0, { min: 0 });
  const idleTimeoutSeconds = read.int(QueueEnv.idleTimeoutSeconds, 0, { min: 0 });
  const readinessProbeJson = read.string(QueueEnv.readinessProbe, '');
  const multiContainerProbes = read.bool(QueueEnv.multiContainerProbes, false);
  const adminPort = read.port('QUEUE_ADMIN_PORT', QueuePorts.admin);
  const autoscalerMetricsPort = read.port('QUEUE_AUTOSCALER_METRICS_PORT', QueuePorts.autoscalerMetrics);
  const userMetricsPort = read.port('QUEUE_USER_METRICS_PORT', QueuePorts.userMetrics);
  const bindAddress = read.string('QUEUE_BIND_ADDRESS', '0.0.0.0');
  const drainQuietPeriodMs = read.durationMs('QUEUE_DRAIN_QUIET_PERIOD', 30_000);
  const drainTimeoutMs = read.durationMs('QUEUE_DRAIN_TIMEOUT', undefined);
  const reportingPeriodMs = read.durationMs('QUEUE_REPORTING_PERIOD', 1000, 100);
  const startupProbeIntervalMs = read.durationMs('QUEUE_STARTUP_PROBE_INTERVAL', 5, 1);
  const defaults = DEFAULT_CONNECTION_LIMITS;
  const connectionLimits: ConnectionLimits = {
    maxHeaderBytes: read.int('QUEUE_MAX_HEADER_BYTES', defaults.maxHeaderBytes, { min: 1024 }),
    headersTimeoutMs: read.durationMs('QUEUE_HEADERS_TIMEOUT', defaults.headersTimeoutMs, 1),
    requestReceiveTimeoutMs: read.durationMs('QUEUE_REQUEST_RECEIVE_TIMEOUT', defaults.requestReceiveTimeoutMs),
    keepAliveTimeoutMs: read.durationMs('QUEUE_KEEP_ALIVE_TIMEOUT', defaults.keepAliveTimeoutMs, 1),
  };
  const upgradeIdleTimeoutMs = read.durationMs('QUEUE_UPGRADE_IDLE_TIMEOUT', DEFAULT_UPGRADE_IDLE_MS);
  const logLevel = read.logLevel(QueueEnv.loggingConfig, QueueEnv.loggingLevel);
  const announceHost = read.string(QueueEnv.announceHost, '');
  const announceToken = read.string(QueueEnv.announceToken, '');
  // The activators' port is fixed (lib/hop.ts); overridable so tests can run one on any port.
  const announcePort = read.port('QUEUE_ANNOUNCE_PORT', ANNOUNCE_PORT);
  if ((announceHost === '') !== (announceToken === ''))
    read.issues.push(`${QueueEnv.announceHost} and ${QueueEnv.announceToken}: must be set together or not at all`);
  const limitsProblem = connectionLimitsProblem(connectionLimits, {
    maxHeaderBytes: 'QUEUE_MAX_HEADER_BYTES',
    headersTimeoutMs: 'QUEUE_HEADERS_TIMEOUT',
    requestReceiveTimeoutMs: 'QUEUE_REQUEST_RECEIVE_TIMEOUT',
    keepAliveTimeoutMs: 'QUEUE_KEEP_ALIVE_TIMEOUT',
  });
  if (limitsProblem !== undefined) read.issues.push(limitsProblem);
  if (read.issues.length > 0) throw new ConfigError(`queue-proxy environment is invalid: ${read.issues.join('; ')}`);
  let readinessProbes: ReadinessProbe[];
  try {
    readinessProbes = parseReadinessProbes(readinessProbeJson, multiContainerProbes, userPort);
  } catch (error) {
    throw new ConfigError(
      `queue-proxy environment is invalid: ${QueueEnv.readinessProbe}: ${(error as Error).message}`,
    );
  }
  const timeoutMs = timeoutSeconds * 1000;
  return {
    namespace,
    service,
    configuration,
    revision,
    pod,
    podIP,
    servingPort,
    userPort,
    containerConcurrency,
    queueDepth: 10 * containerConcurrency,
    timeoutMs,
    responseStartTimeoutMs: responseStartTimeoutSeconds * 1000,
    idleTimeoutMs: idleTimeoutSeconds * 1000,
    readinessProbes,
    adminPort,
    autoscalerMetricsPort,
    userMetricsPort,
    bindAddress,
    drainQuietPeriodMs,
    // Kubernetes kills the pod after terminationGracePeriodSeconds = timeoutSeconds anyway.
    drainTimeoutMs: drainTimeoutMs ?? timeoutMs,
    reportingPeriodMs,
    startupProbeIntervalMs,
    connectionLimits,
    upgradeIdleTimeoutMs,
    logLevel,
    announce: announceHost === '' ? undefined : { host: announceHost, port: announcePort, token: announceToken },
  };
}
