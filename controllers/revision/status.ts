// How a Revision's conditions follow its Deployment, pods and PodAutoscaler (upstream
// pkg/apis/serving/v1/revision_lifecycle.go and pkg/reconciler/revision/reconcile_resources.go),
// worded so users can act on them. Pure.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ConditionManager } from '../../lib/apis/conditions.ts';
import { conditionOf, type PodAutoscalerStatus, type RevisionStatus } from '../../lib/apis/status.ts';
import { ReservedInstanceAnnotations, type InstanceMode } from '../../lib/config/reservedInstance.ts';
import { QUEUE_CONTAINER_NAME } from './resources/queueContainer.ts';

export const RevisionReasons = {
  deploying: 'Deploying',
  notOwned: 'NotOwned',
  progressDeadlineExceeded: 'ProgressDeadlineExceeded',
  invalidConfiguration: 'InvalidConfiguration',
  noTraffic: 'NoTraffic',
  containerMissing: 'ContainerMissing',
} as const;

/** Not a dependent of Ready, so it carries severity Info and a revision is Ready without it. */
export const RESERVED_INSTANCE_READY = 'ReservedInstanceReady';

export const exitCodeReason = (code: number) => `ExitCode${code}`;

/** Waiting reasons that no amount of waiting fixes: reported at once, not after the progress deadline. */
const IMAGE_PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

/** The Deployment's Progressing and ReplicaFailure conditions, as ResourcesAvailable (upstream TransformDeploymentStatus). */
function deploymentCondition(deployment: V1Deployment): {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
} {
  let progressing: { status: 'True' | 'False' | 'Unknown'; reason: string; message: string } = {
    status: 'Unknown',
    reason: RevisionReasons.deploying,
    message: '',
  };
  let replicaFailure: typeof progressing | undefined;
  for (const c of deployment.status?.conditions ?? []) {
    const entry = {
      status: c.status as 'True' | 'False' | 'Unknown',
      reason: c.reason ?? '',
      message: c.message ?? '',
    };
    if (c.type === 'Progressing') progressing = entry;
    // ReplicaFailure True is the failure; False means it cleared.
    if (c.type === 'ReplicaFailure' && c.status === 'True') replicaFailure = { ...entry, status: 'False' };
    if (c.type === 'ReplicaFailure' && c.status === 'Unknown') replicaFailure = entry;
  }
  if (progressing.status === 'False') return progressing;
  return replicaFailure ?? progressing;
}

export function propagateDeploymentStatus(manager: ConditionManager, deployment: V1Deployment, pods: V1Pod[]): void {
  const cond = deploymentCondition(deployment);
  if (cond.status === 'True') manager.markTrue('ResourcesAvailable');
  else if (cond.status === 'False') manager.markFalse('ResourcesAvailable', cond.reason, cond.message);
  else manager.markUnknown('ResourcesAvailable', cond.reason, cond.message);

  const wanted = deployment.spec?.replicas ?? 0;
  const timedOut = cond.status === 'False' && cond.reason === RevisionReasons.progressDeadlineExceeded;
  // Pods are worth a look only when some are wanted and none is available; they should all
  // fail alike, so the first tells the story.
  const pod = wanted > 0 && (deployment.status?.availableReplicas ?? 0) === 0 ? pods[0] : undefined;
  if (pod) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False')
      manager.markFalse('ResourcesAvailable', scheduled.reason ?? 'Unschedulable', scheduled.message ?? '');
    for (const container of pod.status?.containerStatuses ?? []) {
      if (container.name === QUEUE_CONTAINER_NAME) continue;
      const terminated = container.lastState?.terminated;
      const waiting = container.state?.waiting;
      if (terminated) {
        manager.markFalse(
          'ContainerHealthy',
          exitCodeReason(terminated.exitCode),
          `Container failed with: ${terminated.message || (terminated.exitCode === 0 ? 'container exited with no error' : (terminated.reason ?? ''))}`,
        );
        break;
      }
      if (waiting && (timedOut || IMAGE_PULL_FAILURES.has(waiting.reason ?? ''))) {
        manager.markFalse('ResourcesAvailable', waiting.reason ?? RevisionReasons.deploying, waiting.message ?? '');
        break;
      }
    }
  }
  if ((deployment.status?.readyReplicas ?? 0) > 0) manager.markTrue('ContainerHealthy');
  // Until a pod reports, containers are as unknown as on the reconcile that created the
  // Deployment; said on every pass, so a reconcile that never saw the creation says it too.
  else if (manager.get('ContainerHealthy')?.status === 'Unknown' && !manager.get('ContainerHealthy')?.reason)
    manager.markUnknown('ContainerHealthy', RevisionReasons.deploying, '');
}

/** Replica counts and Active from the autoscaler; an initialized scale target proves the pods serve. */
export function propagateAutoscalerStatus(
  status: RevisionStatus,
  manager: ConditionManager,
  pa: { status?: PodAutoscalerStatus },
): void {
  const ps = pa.status ?? {};
  if (ps.actualScale !== undefined && ps.actualScale >= 0) status.actualReplicas = ps.actualScale;
  if (ps.desiredScale !== undefined && ps.desiredScale >= 0) status.desiredReplicas = ps.desiredScale;
  const ready = conditionOf(ps, 'Ready');
  if (!ready) {
    manager.markUnknown('Active', RevisionReasons.deploying, '');
    return;
  }
  const initialized = conditionOf(ps, 'ScaleTargetInitialized')?.status === 'True';
  if (initialized && manager.get('ResourcesAvailable')?.status !== 'False') {
    manager.markTrue('ResourcesAvailable');
    manager.markTrue('ContainerHealthy');
  }
  // Scaled to zero from the start: nothing answers until the autoscaler has a Service for it.
  if (manager.get('ResourcesAvailable')?.status === 'True' && !ps.serviceName)
    manager.markUnknown('ResourcesAvailable', RevisionReasons.deploying, '');
  if (ready.status === 'True') {
    manager.markTrue('Active');
  } else if (ready.status === 'False') {
    if (!initialized && ps.serviceName)
      manager.markFalse(
        'ResourcesAvailable',
        RevisionReasons.progressDeadlineExceeded,
        'Initial scale was never achieved',
      );
    manager.markFalse('Active', ready.reason ?? '', ready.message ?? '');
  } else {
    manager.markUnknown('Active', ready.reason ?? '', ready.message ?? '');
  }
}

/** Pods are wanted but none runs, and a condition already says why: the autoscaler may give up on it. */
export function isFailing(manager: ConditionManager, deployment: V1Deployment | undefined): boolean {
  const failed =
    manager.get('ResourcesAvailable')?.status === 'False' || manager.get('ContainerHealthy')?.status === 'False';
  return failed && (deployment?.spec?.replicas ?? 0) > 0 && (deployment?.status?.readyReplicas ?? 0) === 0;
}

/** ReservedInstanceReady from the reserved Deployment: True once its pod is available. */
export function propagateReservedStatus(manager: ConditionManager, deployment: V1Deployment, routed: boolean): void {
  if ((deployment.status?.availableReplicas ?? 0) > 0) {
    manager.markTrue(RESERVED_INSTANCE_READY);
    return;
  }
  if (!routed) {
    manager.markFalse(
      RESERVED_INSTANCE_READY,
      RevisionReasons.noTraffic,
      'No route sends the revision traffic, so its reserved instance is scaled to zero.',
    );
    return;
  }
  const cond = deploymentCondition(deployment);
  if (cond.status === 'False') manager.markFalse(RESERVED_INSTANCE_READY, cond.reason, cond.message);
  else manager.markUnknown(RESERVED_INSTANCE_READY, RevisionReasons.deploying, '');
}

/** The condition only describes revisions that keep a reserved instance; the others drop it. */
export function clearReservedStatus(status: RevisionStatus): void {
  if (!conditionOf(status, RESERVED_INSTANCE_READY)) return;
  status.conditions = status.conditions!.filter((c) => c.type !== RESERVED_INSTANCE_READY);
}

/** Which instances answer a revision that keeps a reserved one, from its autoscaler's counts. */
export function instanceMode(pa: { status?: PodAutoscalerStatus }): InstanceMode {
  if ((pa.status?.actualScale ?? 0) > 0) return 'standard';
  return (pa.status?.desiredScale ?? 0) > 0 ? 'scaling-from-reserved' : 'reserved-only';
}

export function setInstanceMode(status: RevisionStatus, mode: InstanceMode): void {
  status.annotations = { ...status.annotations, [ReservedInstanceAnnotations.instanceMode]: mode };
}
