// The PodAutoscaler as the autoscaler reads it and writes its status, and the
// ServerlessService it asks for (upstream pkg/reconciler/autoscaling/kpa/resources/sks.go and
// pkg/reconciler/autoscaling/reconciler.go), shared by the KPA and HPA classes.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { PA_API_VERSION, type PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import { PodAutoscalerConditions } from '../../lib/apis/conditions.ts';
import { controllerReference, isControlledBy } from '../../lib/apis/kmeta.ts';
import { Labels } from '../../lib/apis/serving.ts';
import type { PodAutoscalerStatus } from '../../lib/apis/status.ts';
import type { Clock } from '../../lib/clock.ts';
import type { AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import {
  AUTOSCALING_GROUP,
  parseAutoscalingAnnotations,
  type AutoscalingAnnotations,
} from '../../lib/config/autoscalingAnnotations.ts';
import type { Reconciler } from '../../lib/controller.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import type { Logger } from '../../lib/log.ts';
import { SKS_API_VERSION, type ServerlessService, type SksMode } from '../../lib/apis/networking.ts';
import { resolveRevisionAutoscaling, type RevisionAutoscaling } from '../revisionAutoscaling.ts';

/** The class annotation, else config-autoscaler's pod-autoscaler-class. */
export const podAutoscalerClass = (pa: PodAutoscaler, config: AutoscalerConfig): string =>
  pa.metadata?.annotations?.[`${AUTOSCALING_GROUP}/class`] ?? config.podAutoscalerClass;

export const paPath = (namespace: string, name: string) =>
  `/apis/${PA_API_VERSION}/namespaces/${namespace}/podautoscalers/${name}`;
export const sksPath = (namespace: string, name = '') =>
  `/apis/${SKS_API_VERSION}/namespaces/${namespace}/serverlessservices${name ? `/${name}` : ''}`;

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

/** An object the PodAutoscaler would create exists already and belongs to someone else. */
export class NotOwnedError extends Error {
  readonly code = 'NOT_OWNED';
  readonly kind: string;
  readonly objectName: string;

  constructor(kind: string, objectName: string) {
    super(`a ${kind} ${objectName} exists that the PodAutoscaler does not own`);
    this.kind = kind;
    this.objectName = objectName;
  }
}

/** Creates the PA's SKS, or brings its spec to the wanted mode and activator count. */
export async function reconcileServerlessService(
  client: KubeRest,
  pa: PodAutoscaler,
  existing: ServerlessService | undefined,
  mode: SksMode,
  activators: number,
): Promise<ServerlessService> {
  const desired = makeServerlessService(pa, mode, activators);
  const namespace = pa.metadata!.namespace!;
  if (!existing) return client.request<ServerlessService>('POST', sksPath(namespace), { body: desired });
  if (!isControlledBy(existing, { metadata: pa.metadata }))
    throw new NotOwnedError('ServerlessService', existing.metadata?.name ?? '');
  if (JSON.stringify(existing.spec) === JSON.stringify({ ...existing.spec, ...desired.spec })) return existing;
  return client.request<ServerlessService>('PUT', sksPath(namespace, existing.metadata!.name!), {
    body: { ...existing, spec: { ...existing.spec, ...desired.spec } },
  });
}

/** Writes the status when it changed, stamped with the generation it describes. */
export async function writePodAutoscalerStatus(
  client: KubeRest,
  pa: PodAutoscaler,
  status: PodAutoscalerStatus,
): Promise<void> {
  status.observedGeneration = pa.metadata?.generation;
  if (JSON.stringify(status) === JSON.stringify(pa.status ?? {})) return;
  await client.request('PUT', `${paPath(pa.metadata!.namespace!, pa.metadata!.name!)}/status`, {
    body: { ...pa, status },
  });
}

/** Someone else's object stays in the way until removed: say so where users look. */
export async function markNotOwned(
  client: KubeRest,
  clock: Clock,
  pa: PodAutoscaler,
  error: NotOwnedError,
): Promise<void> {
  const status: PodAutoscalerStatus = structuredClone(pa.status ?? {});
  const conditions = PodAutoscalerConditions.manage(status, clock);
  conditions.initialize();
  conditions.markFalse(
    'Active',
    'NotOwned',
    `There is an existing ${error.kind} "${error.objectName}" that we do not own.`,
  );
  await writePodAutoscalerStatus(client, pa, status);
}

/** The reconciler, marking the PA when what stops it is someone else's object in the way. */
export function reportingNotOwned(
  reconcile: Reconciler,
  client: KubeRest,
  clock: Clock,
  podAutoscalers: Lister<PodAutoscaler>,
): Reconciler {
  return async (key, log) => {
    try {
      return await reconcile(key, log);
    } catch (error) {
      const pa = podAutoscalers.get(key);
      if (error instanceof NotOwnedError && pa) await markNotOwned(client, clock, pa, error);
      throw error;
    }
  };
}
