// The PodAutoscaler reconciler of class KPA (upstream pkg/reconciler/autoscaling/kpa/kpa.go and
// scaler.go): keeps the revision's decider, applies its decision through the scale
// subresource, puts the activator in or out of the path through the ServerlessService, and
// reports it all in the PA's status.
import type { PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import type { V1Scale } from '@kubernetes/client-node';
import { PodAutoscalerConditions, type Condition, type ConditionManager } from '../../lib/apis/conditions.ts';
import { Annotations, Labels } from '../../lib/apis/serving.ts';
import type { PodAutoscalerStatus } from '../../lib/apis/status.ts';
import { KPA_CLASS, type AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import { parseGoDuration } from '../../lib/config/duration.ts';
import type { Clock } from '../../lib/clock.ts';
import type { ReconcileResult, Reconciler } from '../../lib/controller.ts';
import { NO_EVENTS, type EventRecorder } from '../../lib/kube/events.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { objectKey, type Lister } from '../../lib/kube/store.ts';
import { kindReconciler, type ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { isSksReady, sksCondition, type ServerlessService } from '../../lib/apis/networking.ts';
import type { PodSource } from '../collector/podSource.ts';
import type { RevisionAutoscaling } from '../revisionAutoscaling.ts';
import type { AutoscalerMetrics, RevisionMetricLabels } from './metrics.ts';
import {
  MIN_ACTIVATORS,
  chooseSksMode,
  computeActiveCondition,
  numActivators,
  reportedDesiredScale,
  type ActiveCondition,
} from './paStatus.ts';
import {
  podAutoscalerClass,
  reconcileServerlessService,
  resolvePodAutoscaling,
  revisionOf,
  scaleSubresourcePath,
} from './podAutoscaler.ts';
import type { RevisionScalers } from './revisionScalers.ts';
import { planScale, type ActiveState } from './scalePlan.ts';

/** config-deployment's default progress-deadline, used when the PA carries none. */
const DEFAULT_PROGRESS_DEADLINE_MS = 600_000;
/** How soon to look again while the activator is not yet known to be in the path. */
const ACTIVATOR_RECHECK_MS = 1000;
const NO_PRIVATE_SERVICE_NAME = 'No Private Service Name';

export interface PodAutoscalerReconcilerDeps {
  client: KubeRest;
  podAutoscalers: Lister<PodAutoscaler>;
  serverlessServices: Lister<ServerlessService>;
  scalers: RevisionScalers;
  pods: PodSource;
  config: () => AutoscalerConfig;
  clock: Clock;
  metrics: AutoscalerMetrics;
  recorder?: Pick<EventRecorder, 'event'>;
}

export function metricLabels(pa: PodAutoscaler): RevisionMetricLabels {
  const labels = pa.metadata?.labels ?? {};
  return {
    k8s_namespace_name: pa.metadata?.namespace ?? '',
    kn_service_name: labels[Labels.service] ?? '',
    kn_configuration_name: labels[Labels.configuration] ?? '',
    kn_revision_name: revisionOf(pa),
  };
}

export function isKpa(pa: PodAutoscaler, config: AutoscalerConfig): boolean {
  return podAutoscalerClass(pa, config) === KPA_CLASS;
}

const activeStateOf = (condition: Condition | undefined): ActiveState =>
  condition?.status === 'True' ? 'active' : condition?.status === 'False' ? 'inactive' : 'activating';

const sinceMs = (condition: Condition | undefined, fallback: number): number =>
  condition?.lastTransitionTime ? Date.parse(condition.lastTransitionTime) : fallback;

export function createPodAutoscalerReconciler(deps: PodAutoscalerReconcilerDeps): Reconciler {
  const { client, clock, scalers, pods } = deps;

  const setActive = (conditions: ConditionManager, active: ActiveCondition | undefined) => {
    if (!active) return;
    if (active.state === 'active') conditions.markTrue('Active');
    else if (active.state === 'activating') conditions.markUnknown('Active', active.reason, active.message);
    else conditions.markFalse('Active', active.reason, active.message);
  };

  /** actualScale, desiredScale and the Active and ScaleTargetInitialized conditions. */
  const computeStatus = (
    status: PodAutoscalerStatus,
    conditions: ConditionManager,
    settings: RevisionAutoscaling,
    want: number,
    ready: number,
  ) => {
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

  const reconcileKind = async (pa: PodAutoscaler, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const { log } = ctx;
    const key = objectKey(pa);
    const config = deps.config();
    const namespace = pa.metadata!.namespace!;
    const revision = revisionOf(pa);
    const { settings } = resolvePodAutoscaling(pa, config, log);

    const status = (pa.status ??= {});
    const conditions = PodAutoscalerConditions.manage(status, clock);
    conditions.initialize();
    const podCounts = pods.podCounts(namespace, revision);
    const { ready } = podCounts;

    const existing = deps.serverlessServices.get(key);
    // The private service is what the decider's metrics come from; nothing to decide without it.
    if (!existing?.status?.privateServiceName) {
      const { notOwned } = await reconcileServerlessService(
        client,
        pa,
        existing,
        'Proxy',
        MIN_ACTIVATORS,
        conditions,
        ctx,
      );
      if (notOwned) return;
      conditions.markUnknown('SKSReady', 'NotReady', NO_PRIVATE_SERVICE_NAME);
      computeStatus(status, conditions, settings, -1, ready);
      deps.metrics.recordPods(metricLabels(pa), -1, podCounts);
      return;
    }
    let sks: ServerlessService = existing;
    status.metricsServiceName = existing.status.privateServiceName;
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
      config: {
        enableScaleToZero: config.enableScaleToZero,
        scaleToZeroGracePeriodMs: config.scaleToZeroGracePeriodMs,
      },
      progressDeadlineMs:
        (progressDeadline ? parseGoDuration(progressDeadline) : undefined) ?? DEFAULT_PROGRESS_DEADLINE_MS,
      sks: {
        mode: sks.spec.mode ?? 'Proxy',
        proxyingSinceMs: activatorPopulated?.status === 'True' ? sinceMs(activatorPopulated, now) : undefined,
      },
      // The SKS reconciler reports when the public endpoints are the activators'; upstream
      // probes the public service for the same answer.
      activatorInPath: activatorPopulated?.status === 'True',
      currentReplicas,
    });

    if (plan.patchReplicas !== undefined) {
      await client.request('PATCH', scalePath, {
        body: [{ op: 'add', path: '/spec/replicas', value: plan.patchReplicas }],
        contentType: 'application/json-patch+json',
      });
      log.info('scaled', { from: currentReplicas, to: plan.patchReplicas });
      if (currentReplicas === 0 || plan.patchReplicas === 0) {
        void ctx.events.event(
          pa,
          'Normal',
          plan.patchReplicas === 0 ? 'ScaledToZero' : 'ScaledFromZero',
          `Scaled ${pa.spec.scaleTargetRef.kind} ${pa.spec.scaleTargetRef.name} from ${currentReplicas} to ${plan.patchReplicas} replicas`,
        );
      }
    }

    const mode = chooseSksMode(plan.want, decider.excessBurstCapacity);
    const reconciled = await reconcileServerlessService(
      client,
      pa,
      sks,
      mode,
      numActivators(ready, settings),
      conditions,
      ctx,
    );
    if (reconciled.notOwned || !reconciled.sks) return;
    sks = reconciled.sks;
    status.serviceName = sks.status?.serviceName;
    if (isSksReady(sks)) conditions.markTrue('SKSReady');
    else
      conditions.markUnknown(
        'SKSReady',
        'NotReady',
        sksCondition(sks, 'Ready')?.message ?? 'ServerlessService is not ready',
      );
    computeStatus(status, conditions, settings, plan.want, ready);
    log.debug('observed pods', { want: plan.want, ...podCounts });
    deps.metrics.recordPods(metricLabels(pa), plan.want, podCounts);

    const requeueAfterMs = plan.probeActivator ? ACTIVATOR_RECHECK_MS : plan.requeueAfterMs;
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  };

  return kindReconciler({
    kind: Kinds.podAutoscaler,
    conditions: PodAutoscalerConditions,
    lister: deps.podAutoscalers,
    client,
    clock,
    events: deps.recorder ?? NO_EVENTS,
    handles: (pa) => isKpa(pa, deps.config()),
    // A PA gone, being deleted or of another class keeps no decider here.
    forget: (key) => scalers.delete(key),
    reconcileKind,
  });
}
