// The PodAutoscaler as the autoscaler reads it, and the ServerlessService it asks for
// (upstream pkg/reconciler/autoscaling/kpa/resources/sks.go).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { controllerReference } from '../../lib/apis/kmeta.ts';
import { Labels } from '../../lib/apis/serving.ts';
import type { PodAutoscalerStatus } from '../../lib/apis/status.ts';
import { SKS_API_VERSION, type ServerlessService, type SksMode } from '../../controllers/serverlessservice/resources.ts';

export const PA_API_VERSION = 'autoscaling.internal.knative.dev/v1alpha1';

export interface PodAutoscalerObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec: {
    containerConcurrency?: number;
    scaleTargetRef: { apiVersion?: string; kind?: string; name?: string };
    reachability?: 'Reachable' | 'Unreachable' | '';
    protocolType: 'http1' | 'h2c';
  };
  status?: PodAutoscalerStatus;
}

/** The revision a PA scales: its label, or its own name, which Knative gives it. */
export const revisionOf = (pa: PodAutoscalerObject): string =>
  pa.metadata?.labels?.[Labels.revision] ?? pa.metadata?.name ?? '';

export function makeServerlessService(pa: PodAutoscalerObject, mode: SksMode, numActivators: number): ServerlessService {
  return {
    apiVersion: SKS_API_VERSION,
    kind: 'ServerlessService',
    metadata: {
      name: pa.metadata?.name,
      namespace: pa.metadata?.namespace,
      labels: { ...pa.metadata?.labels },
      annotations: { ...pa.metadata?.annotations },
      ownerReferences: [controllerReference({ apiVersion: pa.apiVersion ?? PA_API_VERSION, kind: pa.kind ?? 'PodAutoscaler', metadata: pa.metadata })],
    },
    spec: {
      mode,
      numActivators,
      objectRef: pa.spec.scaleTargetRef,
      protocolType: pa.spec.protocolType,
    },
  };
}

const SCALABLE_PLURALS: Record<string, string> = { Deployment: 'deployments', ReplicaSet: 'replicasets', StatefulSet: 'statefulsets' };

/** The scale subresource of the PA's target, e.g. /apis/apps/v1/namespaces/ns/deployments/x/scale. */
export function scaleSubresourcePath(pa: PodAutoscalerObject): string {
  const { apiVersion, kind, name } = pa.spec.scaleTargetRef;
  const plural = kind ? SCALABLE_PLURALS[kind] : undefined;
  if (!apiVersion || !plural || !name) {
    throw new Error(`cannot scale ${kind ?? 'an unnamed kind'} ${name ?? ''}: only apps/v1 Deployments, ReplicaSets and StatefulSets`);
  }
  const group = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${group}/namespaces/${pa.metadata?.namespace}/${plural}/${name}/scale`;
}
