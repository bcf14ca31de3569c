// PodAutoscalers of the HPA class (upstream pkg/reconciler/autoscaling/hpa/hpa.go): Kubernetes'
// HorizontalPodAutoscaler scales the revision, so the KPA keeps no decider for it; this keeps
// the HPA in line with the PA's annotations, the SKS in Serve mode (an HPA never scales to
// zero, so the activator need not stay in the path), and copies the HPA's counts into the PA.
import type { PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { PodAutoscalerConditions } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import type { PodAutoscalerStatus } from '../../lib/apis/status.ts';
import type { Clock } from '../../lib/clock.ts';
import { HPA_CLASS, type AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { objectKey, type Lister } from '../../lib/kube/store.ts';
import type { Logger } from '../../lib/log.ts';
import { isSksReady, type ServerlessService } from '../../lib/apis/networking.ts';
import { activeThreshold } from '../kpa/paStatus.ts';
import {
  NotOwnedError,
  podAutoscalerClass,
  reconcileServerlessService,
  reportingNotOwned,
  resolvePodAutoscaling,
  writePodAutoscalerStatus,
} from '../kpa/podAutoscaler.ts';
import { HPA_API_VERSION, hpaSpecDiffers, makeHorizontalPodAutoscaler } from './resources.ts';

/** The SKS of an HPA-class revision sends every activator when it proxies at all. */
const ALL_ACTIVATORS = 0;

export const hpaPath = (namespace: string, name = '') =>
  `/apis/${HPA_API_VERSION}/namespaces/${namespace}/horizontalpodautoscalers${name ? `/${name}` : ''}`;

export interface HpaReconcilerDeps {
  client: KubeRest;
  podAutoscalers: Lister<PodAutoscaler>;
  serverlessServices: Lister<ServerlessService>;
  horizontalPodAutoscalers: Lister<V2HorizontalPodAutoscaler>;
  config: () => AutoscalerConfig;
  clock: Clock;
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

  const removeOrphan = async (key: string, pa: PodAutoscaler | undefined, log: Logger) => {
    const hpa = deps.horizontalPodAutoscalers.get(key);
    if (!hpa || !isOrphaned(hpa, pa)) return;
    log.info('deleting the HorizontalPodAutoscaler of a PodAutoscaler no longer of the HPA class', {
      hpa: hpa.metadata?.name,
    });
    try {
      await client.request('DELETE', hpaPath(hpa.metadata!.namespace!, hpa.metadata!.name!), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: hpa.metadata?.uid } },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  };

  const ensureHpa = async (
    pa: PodAutoscaler,
    desired: V2HorizontalPodAutoscaler,
    log: Logger,
    status: PodAutoscalerStatus,
  ) => {
    const namespace = pa.metadata!.namespace!;
    const existing = deps.horizontalPodAutoscalers.get(objectKey(desired));
    if (!existing) {
      log.info('creating HorizontalPodAutoscaler', { hpa: desired.metadata?.name });
      try {
        return await client.request<V2HorizontalPodAutoscaler>('POST', hpaPath(namespace), { body: desired });
      } catch (error) {
        const conditions = PodAutoscalerConditions.manage(status, clock);
        conditions.markFalse(
          'Active',
          'FailedCreate',
          `Failed to create HorizontalPodAutoscaler "${desired.metadata?.name}".`,
        );
        await writePodAutoscalerStatus(client, pa, status);
        throw error;
      }
    }
    if (!isControlledBy(existing, { metadata: pa.metadata }))
      throw new NotOwnedError('HorizontalPodAutoscaler', existing.metadata?.name ?? '');
    if (!hpaSpecDiffers(desired.spec!, existing.spec)) return existing;
    log.info('updating HorizontalPodAutoscaler', { hpa: existing.metadata?.name });
    return client.request<V2HorizontalPodAutoscaler>('PUT', hpaPath(namespace, existing.metadata!.name!), {
      body: { ...existing, spec: desired.spec },
    });
  };

  const reconcile = async (key: string, log: Logger): Promise<ReconcileResult | void> => {
    const pa = deps.podAutoscalers.get(key);
    const config = deps.config();
    if (!pa || pa.metadata?.deletionTimestamp || !isHpa(pa, config)) {
      await removeOrphan(key, pa, log);
      return;
    }
    const { annotations, settings } = resolvePodAutoscaling(pa, config, log);

    const status: PodAutoscalerStatus = structuredClone(pa.status ?? {});
    const conditions = PodAutoscalerConditions.manage(status, clock);
    conditions.initialize();
    const hpa = await ensureHpa(pa, makeHorizontalPodAutoscaler(pa, settings, annotations), log, status);

    const sks = await reconcileServerlessService(client, pa, deps.serverlessServices.get(key), 'Serve', ALL_ACTIVATORS);
    status.metricsServiceName = sks.status?.privateServiceName;
    status.serviceName = sks.status?.serviceName;
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
    await writePodAutoscalerStatus(client, pa, status);
  };

  return reportingNotOwned(reconcile, client, clock, deps.podAutoscalers);
}
