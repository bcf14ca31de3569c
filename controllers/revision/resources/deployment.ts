// The Deployment that runs a revision's pods (upstream pkg/reconciler/revision/resources/deploy.go).
import type { V1Container, V1Deployment, V1PodSpec, V1Probe } from '@kubernetes/client-node';
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { servingContainerOf, userPort } from '../../../lib/apis/revision.ts';
import {
  Annotations,
  Labels,
  type Container,
  type Probe,
  type Revision,
  type RevisionSpec,
} from '../../../lib/apis/serving.ts';
import { parseAutoscalingAnnotations } from '../../../lib/config/autoscalingAnnotations.ts';
import { parseGoDuration } from '../../../lib/config/duration.ts';
import { QueuePorts, WAIT_FOR_DRAIN_PATH } from '../../../lib/hop.ts';
import type { ContainerStatus, RevisionStatus } from '../../../lib/apis/status.ts';
import type { RevisionConfig } from '../config.ts';
import { podAnnotations, revisionLabels, revisionSelector } from './meta.ts';
import { deploymentName } from './names.ts';
import { QUEUE_CONTAINER_NAME, makeQueueContainer } from './queueContainer.ts';

/** Fields of a RevisionSpec that are Knative's, not the PodSpec's. */
const KNATIVE_ONLY_FIELDS = [
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
] as const;

/** queue-proxy answers readiness for the user container, so the kubelet must not probe it too. */
function withoutNetworkProbe(probe: Probe | undefined): V1Probe | undefined {
  if (!probe) return undefined;
  const { httpGet, tcpSocket, grpc, ...rest } = probe as Probe & { grpc?: unknown };
  return httpGet || tcpSocket || grpc ? undefined : (rest as V1Probe);
}

/** A liveness probe without a port checks the user port. */
function livenessOnUserPort(probe: Probe | undefined, port: number): V1Probe | undefined {
  if (!probe) return undefined;
  const copy = structuredClone(probe) as V1Probe;
  if (copy.httpGet) copy.httpGet.port = port;
  if (copy.tcpSocket) copy.tcpSocket.port = port;
  if (copy.grpc) copy.grpc.port = port;
  return copy;
}

function userContainer(container: Container, rev: Revision, serving: boolean, port: number): V1Container {
  const labels = rev.metadata?.labels ?? {};
  const out = structuredClone(container) as V1Container;
  out.env = [
    ...(out.env ?? []),
    ...(serving ? [{ name: 'PORT', value: String(port) }] : []),
    { name: 'K_REVISION', value: rev.metadata?.name ?? '' },
    { name: 'K_CONFIGURATION', value: labels[Labels.configuration] ?? '' },
    { name: 'K_SERVICE', value: labels[Labels.service] ?? '' },
  ];
  out.terminationMessagePolicy ??= 'FallbackToLogsOnError';
  out.stdin = false;
  out.tty = false;
  if (serving) {
    out.ports = [{ name: 'user-port', containerPort: port }];
    // The app is told to stop only once queue-proxy has drained its requests.
    out.lifecycle = { preStop: { httpGet: { path: WAIT_FOR_DRAIN_PATH, port: QueuePorts.admin } } };
    const readiness = withoutNetworkProbe(container.readinessProbe as Probe | undefined);
    if (readiness) out.readinessProbe = readiness;
    else delete out.readinessProbe;
    const liveness = livenessOnUserPort(container.livenessProbe as Probe | undefined, port);
    if (liveness) out.livenessProbe = liveness;
  }
  return out;
}

/** The image by the digest it resolved to when the Revision was created, when it resolved to one. */
function pinnedToDigest(container: Container, status: ContainerStatus | undefined): Container {
  return status?.name === container.name && status.imageDigest
    ? { ...container, image: status.imageDigest }
    : container;
}

export function makePodSpec(rev: Revision, config: RevisionConfig): V1PodSpec {
  const spec = structuredClone(rev.spec) as RevisionSpec & Record<string, unknown>;
  const serving = servingContainerOf(spec);
  const port = userPort(serving);
  for (const field of KNATIVE_ONLY_FIELDS) delete spec[field];
  const podSpec = spec as unknown as V1PodSpec;
  const status = rev.status as RevisionStatus | undefined;
  podSpec.containers = [
    ...spec.containers.map((c, i) =>
      userContainer(pinnedToDigest(c, status?.containerStatuses?.[i]), rev, c === serving, port),
    ),
    makeQueueContainer(rev, config),
  ];
  if (spec.initContainers?.length)
    podSpec.initContainers = spec.initContainers.map(
      (c, i) => pinnedToDigest(c as Container, status?.initContainerStatuses?.[i]) as V1Container,
    );
  podSpec.terminationGracePeriodSeconds = (rev.spec as RevisionSpec).timeoutSeconds ?? 300;
  podSpec.enableServiceLinks ??= false;
  if (config.deployment.runtimeClassName && !podSpec.runtimeClassName)
    podSpec.runtimeClassName = config.deployment.runtimeClassName;
  if (config.deployment.defaultAffinityType === 'prefer-spread-revision-over-nodes' && !podSpec.affinity) {
    podSpec.affinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: { [Labels.revision]: rev.metadata?.name ?? '' } },
            },
          },
        ],
      },
    };
  }
  return podSpec;
}

function progressDeadlineSeconds(rev: Revision, config: RevisionConfig): number {
  const annotation = rev.metadata?.annotations?.[Annotations.progressDeadline];
  const ms = annotation === undefined ? undefined : parseGoDuration(annotation);
  return ms === undefined ? config.deployment.progressDeadlineSeconds : ms / 1000;
}

/** Pods the Deployment starts with, before the autoscaler has an opinion. */
export function initialReplicas(rev: Revision, config: RevisionConfig): number {
  const { values } = parseAutoscalingAnnotations(rev.metadata?.annotations, config.autoscaler);
  const initial = values.initialScale ?? config.autoscaler.initialScale;
  return Math.max(initial, values.minScale ?? 0);
}

export function makeDeployment(rev: Revision, config: RevisionConfig): V1Deployment {
  const labels = revisionLabels(rev);
  const annotations = podAnnotations(rev);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: deploymentName(rev.metadata?.name ?? ''),
      namespace: rev.metadata?.namespace,
      labels,
      annotations,
      ownerReferences: [controllerReference(rev)],
    },
    spec: {
      replicas: initialReplicas(rev, config),
      selector: { matchLabels: revisionSelector(rev) },
      progressDeadlineSeconds: progressDeadlineSeconds(rev, config),
      revisionHistoryLimit: 0,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: {
            ...annotations,
            'kubectl.kubernetes.io/default-container':
              servingContainerOf(rev.spec as RevisionSpec)?.name ?? QUEUE_CONTAINER_NAME,
          },
        },
        spec: makePodSpec(rev, config),
      },
    },
  };
}
