// The PodAutoscaler reconciler of class KPA (upstream pkg/reconciler/autoscaling/kpa/kpa.go and
// scaler.go): keeps the revision's decider, applies its decision through the scale
// subresource, puts the activator in or out of the path through the ServerlessService, and
// reports it all in the PA's status.
import type { V1Scale } from '@kubernetes/client-node';
import { PodAutoscalerConditions, type Condition, type ConditionManager } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { Annotations, Labels } from '../../lib/apis/serving.ts';
import type { PodAutoscalerStatus } from '../../lib/apis/status.ts';
import { KPA_CLASS, type AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { AUTOSCALING_GROUP, parseAutoscalingAnnotations } from '../../lib/config/autoscalingAnnotations.ts';
import { parseGoDuration } from '../../lib/config/duration.ts';
import type { Clock } from '../../lib/clock.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import type { EventRecorder } from '../../lib/kube/events.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import type { Logger } from '../../lib/log.ts';
import {
  SKS_API_VERSION, isSksReady, sksCondition, type ServerlessService, type SksMode,
} from '../../controllers/serverlessservice/resources.ts';
import type { PodSource } from '../collector/podSource.ts';
import { resolveRevisionAutoscaling, type RevisionAutoscaling } from '../revisionAutoscaling.ts';
import type { AutoscalerMetrics, RevisionMetricLabels } from './metrics.ts';
import {
  MIN_ACTIVATORS, chooseSksMode, computeActiveCondition, numActivators, reportedDesiredScale, type ActiveCondition,
} from './paStatus.ts';
import { PA_API_VERSION, makeServerlessService, revisionOf, scaleSubresourcePath, type PodAutoscalerObject } from './podAutoscaler.ts';
import type { RevisionScalers } from './revisionScalers.ts';
import { planScale, type ActiveState } from './scalePlan.ts';

/** config-deployment's default progress-deadline, used when the PA carries none. */
const DEFAULT_PROGRESS_DEADLINE_MS = 600_000;
/** How soon to look again while the activator is not yet known to be in the path. */
const ACTIVATOR_RECHECK_MS = 1000;
const NO_PRIVATE_SERVICE_NAME = 'No Private Service Name';

class NotOwnedError extends Error {
  readonly code = 'NOT_OWNED';
  readonly sksName: string;

  constructor(sksName: string) {
    super(`a ServerlessService ${sksName} exists that the PodAutoscaler does not own`);
    this.sksName = sksName;
  }
}

export interface PodAutoscalerReconcilerDeps {
  client: KubeRest;
  podAutoscalers: Lister<PodAutoscalerObject>;
  serverlessServices: Lister<ServerlessService>;
  scalers: RevisionScalers;
  pods: PodSource;
  config: () => AutoscalerConfig;
  clock: Clock;
  metrics: AutoscalerMetrics;
  recorder?: Pick<EventRecorder, 'event'>;
}

export const paPath = (namespace: string, name: string) =>
  `/apis/${PA_API_VERSION}/namespaces/${namespace}/podautoscalers/${name}`;
export const sksPath = (namespace: string, name = '') =>
  `/apis/${SKS_API_VERSION}/namespaces/${namespace}/serverlessservices${name ? `/${name}` : ''}`;

export function metricLabels(pa: PodAutoscalerObject): RevisionMetricLabels {
  const labels = pa.metadata?.labels ?? {};
  return {
    k8s_namespace_name: pa.metadata?.namespace ?? '',
    kn_service_name: labels[Labels.service] ?? '',
    kn_configuration_name: labels[Labels.configuration] ?? '',
    kn_revision_name: revisionOf(pa),
  };
}

export function isKpa(pa: PodAutoscalerObject, config: AutoscalerConfig): boolean {
  return (pa.metadata?.annotations?.[`${AUTOSCALING_GROUP}/class`] ?? config.podAutoscalerClass) === KPA_CLASS;
}

const activeStateOf = (condition: Condition | undefined): ActiveState =>
  condition?.status === 'True' ? 'active' : condition?.status === 'False' ? 'inactive' : 'activating';

const sinceMs = (condition: Condition | undefined, fallback: number): number =>
  condition?.lastTransitionTime ? Date.parse(condition.lastTransitionTime) : fallback;

export function createPodAutoscalerReconciler(deps: PodAutoscalerReconcilerDeps): Reconciler {
  const { client, clock, scalers, pods } = deps;

  const ensureSks = async (pa: PodAutoscalerObject, existing: ServerlessService | undefined, mode: SksMode, activators: number) => {
    const desired = makeServerlessService(pa, mode, activators);
    const namespace = pa.metadata!.namespace!;
    if (!existing) return client.request<ServerlessService>('POST', sksPath(namespace), { body: desired });
    if (!isControlledBy(existing, { metadata: pa.metadata })) throw new NotOwnedError(existing.metadata?.name ?? '');
    if (JSON.stringify(existing.spec) === JSON.stringify({ ...existing.spec, ...desired.spec })) return existing;
    return client.request<ServerlessService>('PUT', sksPath(namespace, existing.metadata!.name!), {
      body: { ...existing, spec: { ...existing.spec, ...desired.spec } },
    });
  };

  const writeStatus = async (pa: PodAutoscalerObject, status: PodAutoscalerStatus) => {
    status.observedGeneration = pa.metadata?.generation;
    if (JSON.stringify(status) === JSON.stringify(pa.status ?? {})) return;
    await client.request('PUT', `${paPath(pa.metadata!.namespace!, pa.metadata!.name!)}/status`, { body: { ...pa, status } });
  };

  const setActive = (conditions: ConditionManager, active: ActiveCondition | undefined) => {
    if (!active) return;
    if (active.state === 'active') conditions.markTrue('Active');
    else if (active.state === 'activating') conditions.markUnknown('Active', active.reason, active.message);
    else conditions.markFalse('Active', active.reason, active.message);
  };

  /** actualScale, desiredScale and the Active and ScaleTargetInitialized conditions. */
  const computeStatus = (status: PodAutoscalerStatus, conditions: ConditionManager, settings: RevisionAutoscaling, want: number, ready: number) => {
    status.actualScale = ready;
    status.desiredScale = reportedDesiredScale(status.desiredScale, want);
    const result = computeActiveCondition({
      want,
      readyPods: ready,
      settings,
      pa: {
        active: activeStateOf(conditions.get('Active')),
        scaleTargetInitialized: conditions.get('ScaleTargetInitialized')?.status === 'True',
        hasServiceName: !!status.serviceName,
      },
    });
    if (result.scaleTargetInitialized) conditions.markTrue('ScaleTargetInitialized');
    setActive(conditions, result.active);
  };

  const reconcile = async (key: string, log: Logger): Promise<ReconcileResult | void> => {
    const pa = deps.podAutoscalers.get(key);
    const config = deps.config();
    if (!pa || pa.metadata?.deletionTimestamp || !isKpa(pa, config)) {
      scalers.delete(key);
      return;
    }
    const namespace = pa.metadata!.namespace!;
    const revision = revisionOf(pa);
    const { values, issues } = parseAutoscalingAnnotations(pa.metadata?.annotations, config);
    if (issues.length > 0) log.warn('ignoring invalid autoscaling annotations', { issues });
    const settings = resolveRevisionAutoscaling(config, values, {
      containerConcurrency: pa.spec.containerConcurrency ?? 0,
      reachable: pa.spec.reachability !== 'Unreachable',
    });

    const status: PodAutoscalerStatus = structuredClone(pa.status ?? {});
    const conditions = PodAutoscalerConditions.manage(status, clock);
    conditions.initialize();
    const ready = pods.readyPods(namespace, revision).length;

    let sks = deps.serverlessServices.get(key);
    // The private service is what the decider's metrics come from; nothing to decide without it.
    if (!sks?.status?.privateServiceName) {
      await ensureSks(pa, sks, 'Proxy', MIN_ACTIVATORS);
      conditions.markUnknown('SKSReady', 'NotReady', NO_PRIVATE_SERVICE_NAME);
      computeStatus(status, conditions, settings, -1, ready);
      await writeStatus(pa, status);
      return;
    }
    status.metricsServiceName = sks.status.privateServiceName;
    const decider = scalers.ensure(key, { namespace, revision, settings, labels: metricLabels(pa) });

    const scalePath = scaleSubresourcePath(pa);
    const scale = await client.request<V1Scale>('GET', scalePath);
    // Scale omits a zero replica count.
    const currentReplicas = scale.spec?.replicas ?? 0;
    const active = conditions.get('Active');
    const activatorPopulated = sksCondition(sks, 'ActivatorEndpointsPopulated');
    const progressDeadline = pa.metadata?.annotations?.[Annotations.progressDeadline];
    const now = clock.now();
    const plan = planScale({
      nowMs: now,
      desiredScale: decider.desiredScale,
      pa: {
        active: activeStateOf(active),
        activeSinceMs: sinceMs(active, now),
        scaleTargetInitialized: conditions.get('ScaleTargetInitialized')?.status === 'True',
      },
      settings,
      config: { enableScaleToZero: config.enableScaleToZero, scaleToZeroGracePeriodMs: config.scaleToZeroGracePeriodMs },
      progressDeadlineMs: (progressDeadline ? parseGoDuration(progressDeadline) : undefined) ?? DEFAULT_PROGRESS_DEADLINE_MS,
      sks: {
        mode: sks.spec.mode ?? 'Proxy',
        proxyingSinceMs: activatorPopulated?.status === 'True' ? sinceMs(activatorPopulated, now) : undefined,
      },
      // The SKS reconciler reports when the public endpoints are the activators'; upstream
      // probes the public service for the same answer.
      activatorInPath: activatorPopulated?.status === 'True',
      currentReplicas,
    });

    let requested = currentReplicas;
    if (plan.patchReplicas !== undefined) {
      await client.request('PATCH', scalePath, {
        body: [{ op: 'add', path: '/spec/replicas', value: plan.patchReplicas }],
        contentType: 'application/json-patch+json',
      });
      log.info('scaled', { from: requested, to: plan.patchReplicas });
      if (requested === 0 || plan.patchReplicas === 0) {
        void deps.recorder?.event(pa, 'Normal', plan.patchReplicas === 0 ? 'ScaledToZero' : 'ScaledFromZero',
          `Scaled ${pa.spec.scaleTargetRef.kind} ${pa.spec.scaleTargetRef.name} from ${requested} to ${plan.patchReplicas} replicas`);
      }
      requested = plan.patchReplicas;
    }

    const mode = chooseSksMode(plan.want, decider.excessBurstCapacity);
    sks = await ensureSks(pa, sks, mode, numActivators(ready, settings));
    status.serviceName = sks.status?.serviceName;
    if (isSksReady(sks)) conditions.markTrue('SKSReady');
    else conditions.markUnknown('SKSReady', 'NotReady', sksCondition(sks, 'Ready')?.message ?? 'ServerlessService is not ready');
    computeStatus(status, conditions, settings, plan.want, ready);
    deps.metrics.recordPods(metricLabels(pa), { requested, ready });
    await writeStatus(pa, status);

    const requeueAfterMs = plan.probeActivator ? ACTIVATOR_RECHECK_MS : plan.requeueAfterMs;
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  };

  return async (key, log) => {
    try {
      return await reconcile(key, log);
    } catch (error) {
      // Someone else's SKS stays in the way until removed: say so where users look.
      const pa = deps.podAutoscalers.get(key);
      if (error instanceof NotOwnedError && pa) {
        const status: PodAutoscalerStatus = structuredClone(pa.status ?? {});
        const conditions = PodAutoscalerConditions.manage(status, clock);
        conditions.initialize();
        conditions.markFalse('Active', 'NotOwned', `There is an existing ServerlessService "${error.sksName}" that we do not own.`);
        await writeStatus(pa, status);
      }
      throw error;
    }
  };
}
