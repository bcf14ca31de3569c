// The queue-proxy's configuration: the environment Knative's revision reconciler gives the
// sidecar (S:pkg/reconciler/revision/resources/queue.go), parsed once, with Knative's defaults.
// Knative hard-codes the admin and metrics ports; they are overridable here so several
// queue-proxies can share a loopback interface in tests.
import { z } from 'zod';
import { boolString, configIssues, durationString, intString } from '../lib/config/parse.ts';
import { parseReadinessProbes, type ReadinessProbe } from './probe.ts';

const port = intString({ min: 0, max: 65535 });
const seconds = intString({ min: 0 });
const required = z.string({ error: 'must be set' }).min(1, 'must be set');

const envSchema = z.object({
  SERVING_NAMESPACE: required,
  SERVING_SERVICE: z.string().default(''),
  SERVING_CONFIGURATION: required,
  SERVING_REVISION: required,
  SERVING_POD: required,
  SERVING_POD_IP: z.string().default(''),
  QUEUE_SERVING_PORT: port.default(8012),
  USER_PORT: intString({ min: 1, max: 65535 }).default(8080),
  CONTAINER_CONCURRENCY: intString({ min: 0, max: 1000 }).default(0),
  REVISION_TIMEOUT_SECONDS: seconds.default(300),
  REVISION_RESPONSE_START_TIMEOUT_SECONDS: seconds.default(0),
  REVISION_IDLE_TIMEOUT_SECONDS: seconds.default(0),
  SERVING_READINESS_PROBE: z.string().default(''),
  ENABLE_MULTI_CONTAINER_PROBES: boolString.default(false),
  QUEUE_ADMIN_PORT: port.default(8022),
  QUEUE_AUTOSCALER_METRICS_PORT: port.default(9090),
  QUEUE_USER_METRICS_PORT: port.default(9091),
  QUEUE_BIND_ADDRESS: z.string().min(1).default('0.0.0.0'),
  QUEUE_DRAIN_QUIET_PERIOD: durationString().default(30_000),
  QUEUE_DRAIN_TIMEOUT: durationString().optional(),
  QUEUE_REPORTING_PERIOD: durationString({ minMs: 100 }).default(1000),
  QUEUE_STARTUP_PROBE_INTERVAL: durationString({ minMs: 1 }).default(5),
});

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
}

export class ConfigError extends Error {
  readonly code = 'QUEUE_PROXY_CONFIG';
}

export function parseConfig(env: Record<string, string | undefined>): QueueProxyConfig {
  const present: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const result = envSchema.safeParse(present);
  if (!result.success) {
    const detail = configIssues(result.error).map((i) => `${i.key}: ${i.message}`).join('; ');
    throw new ConfigError(`queue-proxy environment is invalid: ${detail}`);
  }
  const e = result.data;
  let readinessProbes: ReadinessProbe[];
  try {
    readinessProbes = parseReadinessProbes(e.SERVING_READINESS_PROBE, e.ENABLE_MULTI_CONTAINER_PROBES, e.USER_PORT);
  } catch (error) {
    throw new ConfigError(`queue-proxy environment is invalid: SERVING_READINESS_PROBE: ${(error as Error).message}`);
  }
  const timeoutMs = e.REVISION_TIMEOUT_SECONDS * 1000;
  return {
    namespace: e.SERVING_NAMESPACE,
    service: e.SERVING_SERVICE,
    configuration: e.SERVING_CONFIGURATION,
    revision: e.SERVING_REVISION,
    pod: e.SERVING_POD,
    podIP: e.SERVING_POD_IP,
    servingPort: e.QUEUE_SERVING_PORT,
    userPort: e.USER_PORT,
    containerConcurrency: e.CONTAINER_CONCURRENCY,
    queueDepth: 10 * e.CONTAINER_CONCURRENCY,
    timeoutMs,
    responseStartTimeoutMs: e.REVISION_RESPONSE_START_TIMEOUT_SECONDS * 1000,
    idleTimeoutMs: e.REVISION_IDLE_TIMEOUT_SECONDS * 1000,
    readinessProbes,
    adminPort: e.QUEUE_ADMIN_PORT,
    autoscalerMetricsPort: e.QUEUE_AUTOSCALER_METRICS_PORT,
    userMetricsPort: e.QUEUE_USER_METRICS_PORT,
    bindAddress: e.QUEUE_BIND_ADDRESS,
    drainQuietPeriodMs: e.QUEUE_DRAIN_QUIET_PERIOD,
    // Kubernetes kills the pod after terminationGracePeriodSeconds = timeoutSeconds anyway.
    drainTimeoutMs: e.QUEUE_DRAIN_TIMEOUT ?? timeoutMs,
    reportingPeriodMs: e.QUEUE_REPORTING_PERIOD,
    startupProbeIntervalMs: e.QUEUE_STARTUP_PROBE_INTERVAL,
  };
}
