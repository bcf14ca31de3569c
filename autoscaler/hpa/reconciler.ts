// PodAutoscalers of the HPA class (upstream pkg/reconciler/autoscaling/hpa/hpa.go): Kubernetes'
// HorizontalPodAutoscaler scales the revision, so the KPA keeps no decider for it; this keeps
// the HPA in line with the PA's annotations, the SKS in Serve mode (an HPA never scales to
// zero, so the activator need not stay in the path), and copies the HPA's counts into the PA.
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import { PodAutoscalerConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import { isSksReady, type ServerlessService } from '../../lib/apis/networking.ts';
import type { Clock } from '../../lib/clock.ts';
import { HPA_CLASS, type AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import type { Reconciler } from '../../lib/controller.ts';
import { NO_EVENTS, type EventSink } from '../../lib/kube/events.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { objectKey, type Lister } from '../../lib/kube/store.ts';
import { ownedChild, reconcileChild } from '../../lib/reconciler/child.ts';
import { deleteObject } from '../../lib/reconciler/crud.ts';
import { kindReconciler, type ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { activeThreshold } from '../kpa/paStatus.ts';
import { podAutoscalerClass, reconcileServerlessService, resolvePodAutoscaling } from '../kpa/podAutoscaler.ts';
import { hpaSpecDiffers, makeHorizontalPodAutoscaler } from './resources.ts';

/** The SKS of an HPA-class revision sends every activator when it proxies at all. */
const ALL_ACTIVATORS = 0;

export interface HpaReconcilerDeps {
  client: KubeRest;
  podAutoscalers: Lister<PodAutoscaler>;
  serverlessServices: Lister<ServerlessService>;
  horizontalPodAutoscalers: Lister<V2HorizontalPodAutoscaler>;
  config: () => AutoscalerConfig;
  clock: Clock;
  recorder?: EventSink;
}

export const isHpa = (pa: PodAutoscaler, config: AutoscalerConfig): boolean =>
  podAutoscalerClass(pa, config) === HPA_CLASS;

/**
 * The HPA a PodAutoscaler made, once the PA is gone or no longer of the HPA class: two
 * autoscalers must not fight over one Deployment, and without a garbage collector (or before
 * it runs) nothing else removes it.
 */
function isOrphaned(hpa: V2HorizontalPodAutoscaler, pa: PodAutoscaler | undefined): boolean {
  const owner = hpa.metadata?.ownerReferences?.find((ref) => ref.controller);
  if (owner?.kind !== 'PodAutoscaler' || owner.name !== hpa.metadata?.name) return false;
  return !pa || owner.uid === pa.metadata?.uid;
}

export function createHpaReconciler(deps: HpaReconcilerDeps): Reconciler {
  const { client, clock } = deps;

  const removeOrphan = async (key: string, pa: PodAutoscaler | undefined, ctx: ReconcileContext) => {
    const hpa = deps.horizontalPodAutoscalers.get(key);
    if (!hpa || !isOrphaned(hpa, pa)) return;
    ctx.log.info('deleting the HorizontalPodAutoscaler of a PodAutoscaler no longer of the HPA class', {
      hpa: hpa.metadata?.name,
    });
    await deleteObject(client, Kinds.horizontalPodAutoscaler, hpa);
  };

  /** The PA's HPA, or undefined when the name is someone else's (Active says so) or our create is not cached yet. */
  const reconcileHpa = async (
    pa: PodAutoscaler,
    desired: V2HorizontalPodAutoscaler,
    conditions: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<V2HorizontalPodAutoscaler | undefined> => {
    try {
      const result = await reconcileChild<V2HorizontalPodAutoscaler>({
        client,
        kind: Kinds.horizontalPodAutoscaler,
        description: 'HorizontalPodAutoscaler',
        owner: pa,
        existing: deps.horizontalPodAutoscalers.get(objectKey(desired)),
        desired: () => desired,
        metadata: 'leave',
        spec: {
          equal: (have, want) => !hpaSpecDiffers(want.spec!, have.spec),
          apply: (have, want) => ({ ...have, spec: want.spec }),
        },
        events: ctx.events,
        createdEvent: false,
        onAlreadyExists: 'wait',
      });
      if (result.state === 'created' || result.state === 'updated')
        ctx.log.info(`${result.state} HorizontalPodAutoscaler`, { hpa: desired.metadata?.name });
      return ownedChild(result, conditions, 'Active', 'NotOwned');
    } catch (error) {
      // Upstream's condition for a create that failed; an update's failure is only retried.
      if (!deps.horizontalPodAutoscalers.get(objectKey(desired)))
        conditions.markFalse(
          'Active',
          'FailedCreate',
          `Failed to create HorizontalPodAutoscaler "${desired.metadata?.name}".`,
        );
      throw error;
    }
  };

  const reconcileKind = async (pa: PodAutoscaler, ctx: ReconcileContext): Promise<void> => {
    const key = objectKey(pa);
    const { annotations, settings } = resolvePodAutoscaling(pa, deps.config(), ctx.log);

    const status = (pa.status ??= {});
    const conditions = PodAutoscalerConditions.manage(status, clock);
    conditions.initialize();
    const hpa = await reconcileHpa(pa, makeHorizontalPodAutoscaler(pa, settings, annotations), conditions, ctx);
    if (!hpa) return;

    const { sks, notOwned } = await reconcileServerlessService(
      client,
      pa,
      deps.serverlessServices.get(key),
      'Serve',
      ALL_ACTIVATORS,
      conditions,
      ctx,
    );
    if (notOwned) return;
    status.metricsServiceName = sks?.status?.privateServiceName;
    status.serviceName = sks?.status?.serviceName;
    const currentReplicas = hpa.status?.currentReplicas ?? 0;
    if (isSksReady(sks)) {
      conditions.markTrue('SKSReady');
      // A revision with a min-scale is initialized only once the HPA has brought it that far.
      const initialized = conditions.get('ScaleTargetInitialized')?.status === 'True';
      if (!initialized && currentReplicas >= activeThreshold(settings, false))
        conditions.markTrue('ScaleTargetInitialized');
    } else {
      conditions.markUnknown('SKSReady', 'NotReady', 'SKS Services are not ready yet');
    }
    // Pods are always there to serve: the HPA keeps at least one.
    conditions.markTrue('Active');
    status.desiredScale = hpa.status?.desiredReplicas ?? 0;
    status.actualScale = currentReplicas;
  };

  return kindReconciler({
    kind: Kinds.podAutoscaler,
    conditions: PodAutoscalerConditions,
    lister: deps.podAutoscalers,
    client,
    clock,
    events: deps.recorder ?? NO_EVENTS,
    handles: (pa) => isHpa(pa, deps.config()),
    forget: (key, pa, ctx) => removeOrphan(key, pa, ctx),
    reconcileKind,
  });
}
