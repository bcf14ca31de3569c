// The PodAutoscaler (autoscaling.internal.knative.dev/v1alpha1): the revision reconciler writes its
// spec, the autoscaler (KPA or HPA class) reads it and writes its status.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ProtocolType } from './networking.ts';
import type { PodAutoscalerStatus } from './status.ts';

export const PA_API_VERSION = 'autoscaling.internal.knative.dev/v1alpha1';

/** Reachable: routed; Unreachable: no route sends it traffic; empty: not decided yet. */
export type Reachability = 'Reachable' | 'Unreachable' | '';

export interface PodAutoscaler {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec: {
    containerConcurrency?: number;
    scaleTargetRef: { apiVersion?: string; kind?: string; name?: string };
    reachability?: Reachability;
    protocolType: ProtocolType;
  };
  status?: PodAutoscalerStatus;
}
