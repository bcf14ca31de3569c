// A Revision's children (its Deployment and PodAutoscaler, the reserved instance's Deployment and
// Service) are reconciled with one policy: labels and annotations merged, no event on create (as
// upstream records none), a create racing our cache waited out.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Revision } from '../../lib/apis/serving.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { type ChildOptions, type ChildResult, reconcileChild } from '../../lib/reconciler/child.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';

export type RevisionChild<C extends KubernetesObject> = Pick<
  ChildOptions<C>,
  'kind' | 'description' | 'existing' | 'spec'
> & { desired: C };

export function reconcileRevisionChild<C extends KubernetesObject>(
  client: KubeRest,
  rev: Revision,
  child: RevisionChild<C>,
  ctx: ReconcileContext,
): Promise<ChildResult<C>> {
  return reconcileChild<C>({
    ...child,
    client,
    owner: rev,
    desired: () => child.desired,
    metadata: 'merge',
    events: ctx.events,
    createdEvent: false,
    onAlreadyExists: 'wait',
  });
}
