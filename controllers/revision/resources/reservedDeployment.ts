// The reserved instance of a revision: one small burstable pod, built from the standard pod
// template, that answers requests while the revision has no standard pods. Pure.
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { servingContainerOf } from '../../../lib/apis/revision.ts';
import { Labels, type Revision, type RevisionSpec } from '../../../lib/apis/serving.ts';
import { ReservedInstanceLabels, type ReservedInstanceSizing } from '../../../lib/config/reservedInstance.ts';
import { QueueEnv } from '../../../lib/hop.ts';
import type { RevisionConfig } from '../config.ts';
import { makeDeployment } from './deployment.ts';
import { revisionLabels } from './meta.ts';
import { reservedName } from './names.ts';
import { QUEUE_CONTAINER_NAME } from './queueContainer.ts';

/** queue-proxy proxies a handful of requests at once here; requests without limits let it burst with the app. */
export const RESERVED_QUEUE_RESOURCES = { requests: { cpu: '5m', memory: '32Mi' } } as const;

/**
 * The revision's labels without the two that mark its standard pods: the private Service selects
 * on serving.knative.dev/revisionUID and the autoscaler scrapes pods by serving.knative.dev/revision.
 */
export function reservedPodLabels(rev: Revision): Record<string, string> {
  const { [Labels.revision]: _revision, [Labels.revisionUID]: _uid, ...kept } = revisionLabels(rev);
  return {
    ...kept,
    [ReservedInstanceLabels.revision]: rev.metadata?.name ?? '',
    [ReservedInstanceLabels.revisionUID]: rev.metadata?.uid ?? '',
  };
}

export const reservedSelector = (rev: Revision): Record<string, string> => ({
  [ReservedInstanceLabels.revisionUID]: rev.metadata?.uid ?? '',
});

/** Routes send the revision traffic: the labeller marks it `active`, or has not marked it at all. */
export function isRouted(rev: Revision): boolean {
  const state = rev.metadata?.labels?.[Labels.routingState];
  return state === undefined || state === 'active';
}

function withReservedResources(container: V1Container, sizing: ReservedInstanceSizing): V1Container {
  return {
    ...container,
    resources: {
      ...container.resources,
      requests: { ...container.resources?.requests, cpu: sizing.cpuRequest, memory: sizing.memoryRequest },
      limits: { ...container.resources?.limits, cpu: sizing.cpuLimit, memory: sizing.memoryLimit },
    },
  };
}

/** Not announced: an activator would take the pod for a standard one (the reserved Endpoints say otherwise). */
const NOT_ANNOUNCED: ReadonlySet<string> = new Set([QueueEnv.announceHost, QueueEnv.announceToken]);

function reservedQueue(container: V1Container, sizing: ReservedInstanceSizing): V1Container {
  return {
    ...container,
    env: (container.env ?? [])
      .filter((e) => !NOT_ANNOUNCED.has(e.name))
      .map((e) =>
        e.name === QueueEnv.containerConcurrency ? { name: e.name, value: String(sizing.containerConcurrency) } : e,
      ),
    resources: structuredClone(RESERVED_QUEUE_RESOURCES),
  };
}

/**
 * The standard Deployment (makeDeployment) with one replica while the revision is routed, the
 * reserved sizing on the serving container and queue-proxy, and reserved labels on its pods.
 */
export function makeReservedDeployment(
  rev: Revision,
  config: RevisionConfig,
  sizing: ReservedInstanceSizing,
): V1Deployment {
  const standard = makeDeployment(rev, config);
  const spec = rev.spec as RevisionSpec;
  const servingIndex = spec.containers.indexOf(servingContainerOf(spec)!);
  const pod = standard.spec!.template.spec!;
  pod.containers = pod.containers.map((c, i) => {
    if (i === servingIndex) return withReservedResources(c, sizing);
    return c.name === QUEUE_CONTAINER_NAME && i === pod.containers.length - 1 ? reservedQueue(c, sizing) : c;
  });
  if (Object.keys(sizing.nodeSelector).length > 0) pod.nodeSelector = { ...pod.nodeSelector, ...sizing.nodeSelector };
  if (sizing.priorityClassName) pod.priorityClassName = sizing.priorityClassName;
  const podLabels = reservedPodLabels(rev);
  return {
    ...standard,
    metadata: {
      ...standard.metadata,
      name: reservedName(rev.metadata?.name ?? ''),
      // The revision controller watches only Deployments that carry the revision label.
      labels: { ...podLabels, [Labels.revision]: rev.metadata?.name ?? '' },
    },
    spec: {
      ...standard.spec!,
      replicas: isRouted(rev) ? 1 : 0,
      selector: { matchLabels: reservedSelector(rev) },
      template: { metadata: { ...standard.spec!.template.metadata, labels: podLabels }, spec: pod },
    },
  };
}
