// The PodAutoscaler as the autoscaler reads it and writes its status, and the
// ServerlessService it asks for (upstream pkg/reconciler/autoscaling/kpa/resources/sks.go and
// pkg/reconciler/autoscaling/reconciler.go), shared by the KPA and HPA classes.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { PA_API_VERSION, type PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import type { ConditionManager } from '../../lib/apis/conditions.ts';
import { controllerReference } from '../../lib/apis/kmeta.ts';
import { Labels } from '../../lib/apis/serving.ts';
import type { AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import {
  AUTOSCALING_GROUP,
  parseAutoscalingAnnotations,
  type AutoscalingAnnotations,
} from '../../lib/config/autoscalingAnnotations.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Logger } from '../../lib/log.ts';
import { ownedChild, reconcileChild } from '../../lib/reconciler/child.ts';
import { sameJson } from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { SKS_API_VERSION, type ServerlessService, type SksMode } from '../../lib/apis/networking.ts';
import { resolveRevisionAutoscaling, type RevisionAutoscaling } from '../revisionAutoscaling.ts';

/** The class annotation, else config-autoscaler's pod-autoscaler-class. */
export const podAutoscalerClass = (pa: PodAutoscaler, config: AutoscalerConfig): string =>
  pa.metadata?.annotations?.[`${AUTOSCALING_GROUP}/class`] ?? config.podAutoscalerClass;

/** The revision a PA scales: its label, or its own name, which Knative gives it. */
export const revisionOf = (pa: PodAutoscaler): string =>
  pa.metadata?.labels?.[Labels.revision] ?? pa.metadata?.name ?? '';

/** The PA's annotations read, invalid ones warned of and left out, and the revision's autoscaling they give. */
export function resolvePodAutoscaling(
  pa: PodAutoscaler,
  config: AutoscalerConfig,
  log: Logger,
): { annotations: AutoscalingAnnotations; settings: RevisionAutoscaling } {
  const { values, issues } = parseAutoscalingAnnotations(pa.metadata?.annotations, config);
  if (issues.length > 0) log.warn('ignoring invalid autoscaling annotations', { issues });
  const settings = resolveRevisionAutoscaling(config, values, {
    containerConcurrency: pa.spec.containerConcurrency ?? 0,
    reachable: pa.spec.reachability !== 'Unreachable',
  });
  return { annotations: values, settings };
}

/** Metadata of an object the PA makes: its name, namespace, labels and annotations, and the PA as controller. */
export function childMetadata(pa: PodAutoscaler): V1ObjectMeta {
  return {
    name: pa.metadata?.name,
    namespace: pa.metadata?.namespace,
    labels: { ...pa.metadata?.labels },
    annotations: { ...pa.metadata?.annotations },
    ownerReferences: [
      controllerReference({
        apiVersion: pa.apiVersion ?? PA_API_VERSION,
        kind: pa.kind ?? 'PodAutoscaler',
        metadata: pa.metadata,
      }),
    ],
  };
}

export function makeServerlessService(pa: PodAutoscaler, mode: SksMode, numActivators: number): ServerlessService {
  return {
    apiVersion: SKS_API_VERSION,
    kind: 'ServerlessService',
    metadata: childMetadata(pa),
    spec: {
      mode,
      numActivators,
      objectRef: pa.spec.scaleTargetRef,
      protocolType: pa.spec.protocolType,
    },
  };
}

const SCALABLE_PLURALS: Record<string, string> = {
  Deployment: 'deployments',
  ReplicaSet: 'replicasets',
  StatefulSet: 'statefulsets',
};

/** The scale subresource of the PA's target, e.g. /apis/apps/v1/namespaces/ns/deployments/x/scale. */
export function scaleSubresourcePath(pa: PodAutoscaler): string {
  const { apiVersion, kind, name } = pa.spec.scaleTargetRef;
  const plural = kind ? SCALABLE_PLURALS[kind] : undefined;
  if (!apiVersion || !plural || !name) {
    throw new Error(
      `cannot scale ${kind ?? 'an unnamed kind'} ${name ?? ''}: only apps/v1 Deployments, ReplicaSets and StatefulSets`,
    );
  }
  const group = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${group}/namespaces/${pa.metadata?.namespace}/${plural}/${name}/scale`;
}

/**
 * Creates the PA's SKS, or brings its spec to the wanted mode and activator count. `sks` is
 * undefined while our create is not in the cache yet, and when a ServerlessService of that name is
 * someone else's: then `notOwned`, and Active says so.
 */
export async function reconcileServerlessService(
  client: KubeRest,
  pa: PodAutoscaler,
  existing: ServerlessService | undefined,
  mode: SksMode,
  activators: number,
  conditions: ConditionManager,
  ctx: ReconcileContext,
): Promise<{ sks: ServerlessService | undefined; notOwned: boolean }> {
  const result = await reconcileChild<ServerlessService>({
    client,
    kind: Kinds.serverlessService,
    description: 'ServerlessService',
    owner: pa,
    existing,
    desired: () => makeServerlessService(pa, mode, activators),
    metadata: 'leave',
    spec: {
      // Fields of the spec we do not set (defaults the API server filled in) are kept.
      equal: (have, want) => sameJson(have.spec, { ...have.spec, ...want.spec }),
      apply: (have, want) => ({ ...have, spec: { ...have.spec, ...want.spec } }),
    },
    events: ctx.events,
    // Upstream logs the creation of an SKS but records no event.
    createdEvent: false,
    onAlreadyExists: 'wait',
  });
  return { sks: ownedChild(result, conditions, 'Active', 'NotOwned'), notOwned: result.state === 'notOwned' };
}
