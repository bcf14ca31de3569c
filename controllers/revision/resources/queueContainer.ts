// The queue-proxy sidecar of a revision's pods (upstream pkg/reconciler/revision/resources/queue.go).
import type { V1Container, V1EnvVar, V1Probe } from '@kubernetes/client-node';
import { Labels, type Probe, type Revision, type RevisionSpec } from '../../../lib/apis/serving.ts';
import type { QueueSidecarJit } from '../../../lib/config/deployment.ts';
import { canonicalHeaderName, HopHeaders, ProbeValues, QueueEnv, QueuePorts } from '../../../lib/hop.ts';
import { IMAGE_CLI, IMAGE_NODE } from '../../../lib/image.ts';
import { announceToken } from '../../../lib/announce.ts';
import { QUEUE_PROXY_LOGGER } from '../../../lib/config/logging.ts';
import type { RevisionConfig } from '../config.ts';
import { servingContainerOf, servingProtocol, userPort } from '../../../lib/apis/revision.ts';

export const QUEUE_CONTAINER_NAME = 'queue-proxy';

/**
 * node's flags for the sidecar, by config-deployment's queue-sidecar-jit; bench/queue-proxy.ts
 * measures each. A Node.js process is about 45 MiB before it serves anything, most of it node's
 * own code; what grows under load is V8's compiled code, its compilers' code and their memory.
 * Both keep a 1 MiB young generation, which is plenty for a proxy's short-lived objects, and
 * keep V8's compilation and GC on the main thread, whose threads' memory costs more than it saves.
 * - optimizing: TurboFan without Maglev, whose own code and zones cost several MiB.
 * - baseline: no optimizing compiler; about 8 MiB less RSS under load, at 1.6 to 3.8 times the CPU per request.
 * Measured and left out: --optimize-for-size (0.7 MiB less working set for about 18% more CPU per
 * request), --no-sparkplug and --max-old-space-size=16 (no less), --lite-mode (2.6 times the CPU).
 */
const OPTIMIZING_FLAGS = ['--max-semi-space-size=1', '--single-threaded', '--no-maglev'];
export const QUEUE_NODE_FLAGS: Record<QueueSidecarJit, readonly string[]> = {
  optimizing: OPTIMIZING_FLAGS,
  baseline: [...OPTIMIZING_FLAGS, '--no-turbofan'],
};

/** What queue-proxy must probe, as JSON in its SERVING_READINESS_PROBE: always on loopback and the user port. */
export function readinessProbeForQueue(probe: Probe | undefined, port: number): V1Probe {
  const timing = {
    ...(probe?.initialDelaySeconds !== undefined ? { initialDelaySeconds: probe.initialDelaySeconds } : {}),
    ...(probe?.timeoutSeconds !== undefined ? { timeoutSeconds: probe.timeoutSeconds } : {}),
    ...(probe?.periodSeconds !== undefined ? { periodSeconds: probe.periodSeconds } : {}),
    successThreshold: probe?.successThreshold ?? 1,
    ...(probe?.failureThreshold !== undefined ? { failureThreshold: probe.failureThreshold } : {}),
  };
  if (probe?.httpGet) {
    return { ...timing, httpGet: { ...probe.httpGet, host: '127.0.0.1', port: port } as V1Probe['httpGet'] };
  }
  const grpc = (probe as { grpc?: { service?: string } } | undefined)?.grpc;
  if (grpc) return { ...timing, grpc: { port, service: grpc.service ?? '' } };
  // TCP, or an exec probe, which queue-proxy cannot run: it checks the port instead.
  return { ...timing, tcpSocket: { host: '127.0.0.1', port } };
}

const env = (name: string, value: string | number): V1EnvVar => ({ name, value: String(value) });
const fieldEnv = (name: string, fieldPath: string): V1EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });

export function makeQueueContainer(rev: Revision, config: RevisionConfig): V1Container {
  const spec = rev.spec as RevisionSpec;
  const serving = servingContainerOf(spec);
  const port = userPort(serving);
  const protocol = servingProtocol(serving);
  const servingPort = protocol === 'h2c' ? QueuePorts.h2c : QueuePorts.http1;
  const labels = rev.metadata?.labels ?? {};
  const userProbe = serving?.readinessProbe as Probe | undefined;
  const resources = config.deployment.queueSidecarResources;
  return {
    name: QUEUE_CONTAINER_NAME,
    image: config.deployment.queueSidecarImage,
    command: [IMAGE_NODE, ...QUEUE_NODE_FLAGS[config.deployment.queueSidecarJit], IMAGE_CLI],
    args: ['queue-proxy'],
    ports: [
      { name: 'queue-port', containerPort: servingPort },
      { name: 'http-autometric', containerPort: QueuePorts.autoscalerMetrics },
      { name: 'http-usermetric', containerPort: QueuePorts.userMetrics },
    ],
    env: [
      env(QueueEnv.namespace, rev.metadata?.namespace ?? ''),
      env(QueueEnv.service, labels[Labels.service] ?? ''),
      env(QueueEnv.configuration, labels[Labels.configuration] ?? ''),
      env(QueueEnv.revision, rev.metadata?.name ?? ''),
      env(QueueEnv.servingPort, servingPort),
      env(QueueEnv.containerConcurrency, spec.containerConcurrency ?? 0),
      env(QueueEnv.timeoutSeconds, spec.timeoutSeconds ?? 0),
      env(QueueEnv.responseStartTimeoutSeconds, spec.responseStartTimeoutSeconds ?? 0),
      env(QueueEnv.idleTimeoutSeconds, spec.idleTimeoutSeconds ?? 0),
      fieldEnv(QueueEnv.pod, 'metadata.name'),
      fieldEnv(QueueEnv.podIP, 'status.podIP'),
      env(QueueEnv.userPort, port),
      env(QueueEnv.systemNamespace, config.systemNamespace),
      env(QueueEnv.readinessProbe, JSON.stringify(readinessProbeForQueue(userProbe, port))),
      env(QueueEnv.http2AutoDetection, String(config.features['autodetect-http2'] === 'Enabled')),
      env(QueueEnv.multiContainerProbes, String(config.features['multi-container-probing'] === 'Enabled')),
      // As upstream: zap-logger-config's level for every component, loglevel.queueproxy over it.
      // Only the level is passed: queue-proxy reads nothing else of zap's configuration.
      env(QueueEnv.loggingConfig, JSON.stringify({ level: config.logging.level })),
      env(QueueEnv.loggingLevel, config.logging.components[QUEUE_PROXY_LOGGER] ?? ''),
      ...(config.announce === undefined
        ? []
        : [
            env(QueueEnv.announceHost, config.announce.host),
            env(
              QueueEnv.announceToken,
              announceToken(config.announce.key, rev.metadata?.namespace ?? '', rev.metadata?.name ?? ''),
            ),
          ]),
    ],
    resources: {
      ...(Object.keys(resources.requests).length > 0 ? { requests: resources.requests } : {}),
      ...(Object.keys(resources.limits).length > 0 ? { limits: resources.limits } : {}),
    },
    readinessProbe: {
      httpGet: {
        port: servingPort,
        httpHeaders: [{ name: canonicalHeaderName(HopHeaders.networkProbe), value: ProbeValues.queue }],
      },
      ...(userProbe?.initialDelaySeconds !== undefined ? { initialDelaySeconds: userProbe.initialDelaySeconds } : {}),
      ...(userProbe?.timeoutSeconds !== undefined ? { timeoutSeconds: userProbe.timeoutSeconds } : {}),
      periodSeconds: userProbe?.periodSeconds || 1,
      ...(userProbe?.failureThreshold !== undefined ? { failureThreshold: userProbe.failureThreshold } : {}),
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
