// PodAutoscaler status from the scale plan and observed pods: the Active condition, the
// ScaleTargetInitialized flag, desiredScale, and the SKS the revision needs
// (upstream pkg/reconciler/autoscaling/kpa/kpa.go).
import type { RevisionAutoscaling } from '../revisionAutoscaling.ts';
import type { ActiveState, SksMode } from './scalePlan.ts';

export const MIN_ACTIVATORS = 2;

export type ActiveCondition =
  | { state: 'active' }
  | { state: 'activating'; reason: 'Queued'; message: string }
  | { state: 'inactive'; reason: 'NoTraffic' | 'TimedOut'; message: string };

export interface ActiveConditionInput {
  /** planScale's want. */
  want: number;
  readyPods: number;
  settings: Pick<RevisionAutoscaling, 'minScale' | 'initialScale'>;
  pa: { active: ActiveState; scaleTargetInitialized: boolean; hasServiceName: boolean };
}

export interface ActiveConditionResult {
  scaleTargetInitialized: boolean;
  /** undefined: leave the condition as it is. */
  active: ActiveCondition | undefined;
}

/**
 * Ready pods needed to count as active: the initial scale until the target has reached it
 * once, then one pod (or min-scale).
 */
export function activeThreshold(settings: ActiveConditionInput['settings'], scaleTargetInitialized: boolean): number {
  return scaleTargetInitialized ? Math.max(settings.minScale, 1) : Math.max(settings.minScale, settings.initialScale);
}

export function computeActiveCondition({ want, readyPods, settings, pa }: ActiveConditionInput): ActiveConditionResult {
  const minReady = activeThreshold(settings, pa.scaleTargetInitialized);
  const scaleTargetInitialized = pa.scaleTargetInitialized || (readyPods >= minReady && pa.hasServiceName);

  // minReady 0 is initial-scale 0: nothing to activate, and want stays −1 until load arrives.
  if (want === 0 || minReady === 0) {
    const active: ActiveCondition =
      pa.active === 'activating' && minReady > 0
        ? { state: 'inactive', reason: 'TimedOut', message: 'The target could not be activated.' }
        : { state: 'inactive', reason: 'NoTraffic', message: 'The target is not receiving traffic.' };
    return { scaleTargetInitialized, active };
  }
  if (readyPods < minReady) {
    const active: ActiveCondition =
      want > 0 || pa.active !== 'inactive'
        ? {
            state: 'activating',
            reason: 'Queued',
            message: 'Requests to the target are being buffered as resources are provisioned.',
          }
        : { state: 'inactive', reason: 'NoTraffic', message: 'The target is not receiving traffic.' };
    return { scaleTargetInitialized, active };
  }
  return {
    scaleTargetInitialized,
    active: want > 0 || pa.active !== 'inactive' ? { state: 'active' } : undefined,
  };
}

/**
 * The desiredScale to publish: a restarted autoscaler reports −1 until it has data again,
 * which must not wipe a known value.
 */
export function reportedDesiredScale(previous: number | undefined, want: number): number {
  return want === -1 && previous !== undefined && previous >= 0 ? previous : want;
}

/** The activator leaves the path only when pods are wanted and they cover the burst capacity. */
export function chooseSksMode(want: number, excessBurstCapacity: number): SksMode {
  return want > 0 && excessBurstCapacity >= 0 ? 'Serve' : 'Proxy';
}

/** Enough activators to carry the ready pods' capacity plus the burst capacity. */
export function numActivators(
  readyPods: number,
  spec: Pick<RevisionAutoscaling, 'targetBurstCapacity' | 'totalValue' | 'activatorCapacity'>,
): number {
  if (spec.targetBurstCapacity === 0) return MIN_ACTIVATORS;
  const capacity = readyPods * spec.totalValue + Math.max(spec.targetBurstCapacity, 0);
  return Math.max(MIN_ACTIVATORS, Math.ceil(capacity / spec.activatorCapacity));
}
