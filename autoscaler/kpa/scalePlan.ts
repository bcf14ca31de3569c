// What the PodAutoscaler reconciler does with the decider's desired scale: bounds, initial
// scale, and the gates in front of scaling to zero (upstream pkg/reconciler/autoscaling/kpa/scaler.go).
// Pure: the reconciler supplies the observed state and carries out the plan.
import type { RevisionAutoscaling } from '../revisionAutoscaling.ts';

/** The PodAutoscaler Active condition: True, Unknown, False. */
export type ActiveState = 'active' | 'activating' | 'inactive';
export type SksMode = 'Serve' | 'Proxy';

/** Activation may take the progress deadline plus this much before the PA gives up on it. */
export const ACTIVATION_TIMEOUT_BUFFER_MS = 30_000;
/** How soon to look again when the PA has gone inactive but the SKS was already proxying. */
export const INACTIVE_IN_PROXY_REQUEUE_MS = 3000;

export interface ScalePlanInput {
  nowMs: number;
  /** The decider's desired scale; −1 when it has not decided yet. */
  desiredScale: number;
  pa: {
    active: ActiveState;
    /** lastTransitionTime of the Active condition. */
    activeSinceMs: number;
    scaleTargetInitialized: boolean;
  };
  settings: Pick<
    RevisionAutoscaling,
    | 'minScale'
    | 'maxScale'
    | 'initialScale'
    | 'reachable'
    | 'stableWindowMs'
    | 'targetBurstCapacity'
    | 'scaleToZeroPodRetentionMs'
  >;
  config: { enableScaleToZero: boolean; scaleToZeroGracePeriodMs: number };
  /** The revision's progress deadline (annotation or config-deployment). */
  progressDeadlineMs: number;
  sks: {
    mode: SksMode;
    /** Since when the activator endpoints have backed the revision; undefined when they do not. */
    proxyingSinceMs: number | undefined;
  };
  /**
   * The latest probe of the revision's public service answered as the activator. Not needed
   * when target-burst-capacity is −1, which keeps the activator in the path anyway.
   */
  activatorInPath: boolean;
  /** spec.replicas of the scale target; undefined reads as 1, as Kubernetes defaults it. */
  currentReplicas: number | undefined;
}

export interface ScalePlan {
  /** The scale to report in PA status.desiredScale and to drive the SKS mode; −1 for unknown. */
  want: number;
  /** Set when the scale subresource must be patched to this replica count. */
  patchReplicas?: number;
  /** Reconcile the PA again after this long, because a gate opens then. */
  requeueAfterMs?: number;
  /** Start probing the public service until it answers as the activator, then reconcile again. */
  probeActivator?: boolean;
}

export function planScale(input: ScalePlanInput): ScalePlan {
  const { pa, settings } = input;
  if (input.desiredScale < 0 && pa.active !== 'activating') return { want: input.desiredScale };

  let min = settings.minScale;
  // Until the revision has once reached its initial scale, that is its floor; an unreachable
  // revision skips it so that it can go straight to zero.
  if (settings.initialScale > 1 && !pa.scaleTargetInitialized && settings.reachable) {
    min = Math.max(min, settings.initialScale);
  }
  const bounded = applyBounds(input.desiredScale, min, settings.maxScale);

  const gate = bounded === 0 ? scaleToZeroGate(input) : { want: bounded, apply: true };
  const plan: ScalePlan = { want: gate.want };
  if (gate.requeueAfterMs !== undefined) plan.requeueAfterMs = gate.requeueAfterMs;
  if (gate.probeActivator) plan.probeActivator = true;
  if (gate.apply && gate.want !== (input.currentReplicas ?? 1)) plan.patchReplicas = gate.want;
  return plan;
}

/** maxScale 0 means unbounded. */
export function applyBounds(scale: number, min: number, max: number): number {
  if (scale < min) return min;
  if (max !== 0 && scale > max) return max;
  return scale;
}

interface Gate {
  want: number;
  apply: boolean;
  requeueAfterMs?: number;
  probeActivator?: boolean;
}

/**
 * Zero is applied only once (a) scale to zero is enabled, (b) the PA has been active a whole
 * stable window without load and so went inactive, and (c) the activator has been in the path
 * for the grace period and any pod retention period has passed — or when activation failed.
 */
function scaleToZeroGate(input: ScalePlanInput): Gate {
  const { nowMs, pa, settings, config } = input;
  if (!config.enableScaleToZero) return { want: 1, apply: true };
  const inStateMs = nowMs - pa.activeSinceMs;

  if (pa.active === 'activating') {
    const timeoutMs = input.progressDeadlineMs + ACTIVATION_TIMEOUT_BUFFER_MS;
    if (inStateMs > timeoutMs) return { want: 0, apply: true };
    return { want: -1, apply: false, requeueAfterMs: timeoutMs };
  }

  if (pa.active === 'active') {
    if (inStateMs >= settings.stableWindowMs) {
      // Report zero so the PA turns inactive and the activator comes into the path; the pods
      // stay until the inactive gates below pass. A PA whose SKS already proxies may get
      // no further event to wake it, so it schedules one.
      return input.sks.mode === 'Proxy'
        ? { want: 0, apply: false, requeueAfterMs: INACTIVE_IN_PROXY_REQUEUE_MS }
        : { want: 0, apply: false };
    }
    return { want: 1, apply: true, requeueAfterMs: settings.stableWindowMs - inStateMs };
  }

  if (settings.targetBurstCapacity !== -1 && !input.activatorInPath) {
    return { want: 0, apply: false, probeActivator: true };
  }
  const retentionMs = settings.scaleToZeroPodRetentionMs;
  if (inStateMs >= Math.max(config.scaleToZeroGracePeriodMs, retentionMs)) return { want: 0, apply: true };
  if (retentionMs > 0 && inStateMs < retentionMs) {
    return { want: 0, apply: false, requeueAfterMs: retentionMs - inStateMs };
  }
  const proxyingMs = input.sks.proxyingSinceMs === undefined ? 0 : nowMs - input.sks.proxyingSinceMs;
  const remainingMs = config.scaleToZeroGracePeriodMs - proxyingMs;
  if (remainingMs <= 0) return { want: 0, apply: true };
  return { want: 0, apply: false, requeueAfterMs: remainingMs };
}
