// The PodAutoscaler that scales a revision's Deployment (upstream pkg/reconciler/revision/resources/pa.go).
import { PA_API_VERSION, type PodAutoscaler, type Reachability } from '../../../lib/apis/autoscaling.ts';
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { servingContainerOf, servingProtocol } from '../../../lib/apis/revision.ts';
import { Labels, type Revision, type RevisionSpec } from '../../../lib/apis/serving.ts';
import { podAutoscalerAnnotations, revisionLabels } from './meta.ts';
import { deploymentName, podAutoscalerName } from './names.ts';

/**
 * A revision no route sends traffic to is Unreachable and may go to zero at once; one that is
 * routed is Reachable; a new one (pending) is neither until the route has decided.
 */
export function reachability(rev: Revision, failing: boolean): Reachability {
  const state = rev.metadata?.labels?.[Labels.routingState];
  if (state === 'active') return 'Reachable';
  if (state === 'reserve' || failing) return 'Unreachable';
  return '';
}

export function makePodAutoscaler(rev: Revision, options: { failing?: boolean } = {}): PodAutoscaler {
  const name = rev.metadata?.name ?? '';
  const spec = rev.spec as RevisionSpec;
  return {
    apiVersion: PA_API_VERSION,
    kind: 'PodAutoscaler',
    metadata: {
      name: podAutoscalerName(name),
      namespace: rev.metadata?.namespace,
      labels: revisionLabels(rev),
      annotations: podAutoscalerAnnotations(rev),
      ownerReferences: [controllerReference(rev)],
    },
    spec: {
      containerConcurrency: spec.containerConcurrency ?? 0,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deploymentName(name) },
      reachability: reachability(rev, options.failing ?? false),
      protocolType: servingProtocol(servingContainerOf(spec)),
    },
  };
}
