// The KPA decision for one revision: from smoothed load and ready pods to a desired pod count
// and the excess burst capacity (upstream pkg/autoscaler/scaling/autoscaler.go).
import type { RevisionAutoscaling } from '../revisionAutoscaling.ts';
import type { Observation } from '../metrics/revisionMetrics.ts';
import { SlidingMax } from './slidingMax.ts';

/** How often the autoscaler decides; not configurable upstream either. */
export const TICK_INTERVAL_MS = 2000;

export type DeciderSpec = Pick<
  RevisionAutoscaling,
  | 'metric'
  | 'targetValue'
  | 'totalValue'
  | 'targetBurstCapacity'
  | 'panicThreshold'
  | 'stableWindowMs'
  | 'scaleDownDelayMs'
  | 'maxScaleUpRate'
  | 'maxScaleDownRate'
  | 'activationScale'
  | 'initialScale'
  | 'reachable'
  | 'activatorCapacity'
>;

export interface DecideInput {
  nowMs: number;
  /** Running, ready, not terminating pods of the revision. */
  readyPods: number;
  observed: Observation;
}

export interface Decision {
  desiredPods: number;
  /**
   * Spare capacity beyond target-burst-capacity, from the panic-window load; negative means
   * the activator must stay in the path. −1 when target-burst-capacity is −1, 0 when it is 0.
   */
  excessBurstCapacity: number;
  panicking: boolean;
}

export class Decider {
  private spec: DeciderSpec;
  private panicSinceMs: number | undefined;
  /** The highest count decided during the current panic; panic never scales down. */
  private maxPanicPods: number;
  private delay: SlidingMax | undefined;

  /**
   * A decider created while more than one pod is ready starts panicking: a restarted
   * autoscaler has no history and must not shrink the revision until it has some.
   */
  constructor(spec: DeciderSpec, start: { nowMs: number; readyPods: number }) {
    this.spec = spec;
    this.panicSinceMs = start.readyPods > 1 ? start.nowMs : undefined;
    this.maxPanicPods = start.readyPods;
    this.delay = newDelayWindow(spec.scaleDownDelayMs);
  }

  get panicking(): boolean {
    return this.panicSinceMs !== undefined;
  }

  update(spec: DeciderSpec): void {
    if (spec.scaleDownDelayMs !== this.spec.scaleDownDelayMs) this.delay = newDelayWindow(spec.scaleDownDelayMs);
    this.spec = spec;
  }

  /**
   * Whether deciding now would ask for more pods than `decided`. Only the scale-down delay is
   * left out, and it never lowers a count that rises above the last decision.
   */
  wouldScaleUp(input: DecideInput, decided: number): boolean {
    return this.evaluate(input).undelayed > decided;
  }

  decide(input: DecideInput): Decision {
    const { nowMs, readyPods, observed } = input;
    const next = this.evaluate(input);
    this.panicSinceMs = next.panicSinceMs;
    this.maxPanicPods = next.maxPanicPods;
    let desired = next.undelayed;
    if (this.spec.reachable && this.delay) {
      this.delay.record(nowMs, desired);
      desired = this.delay.current();
    }
    return {
      desiredPods: desired,
      excessBurstCapacity: excessBurstCapacity(this.spec, readyPods, observed.panic),
      panicking: this.panicking,
    };
  }

  /** The decision and the panic state it leaves, before the scale-down delay; changes nothing. */
  private evaluate({ nowMs, readyPods, observed }: DecideInput): {
    undelayed: number;
    panicSinceMs: number | undefined;
    maxPanicPods: number;
  } {
    const spec = this.spec;
    // With no ready pods the rate limits still have to allow going from 0 to something.
    const pods = Math.max(1, readyPods);
    // Ceiling so that a rate close to 1 still lets the count grow by a pod.
    const maxUp = Math.ceil(spec.maxScaleUpRate * pods);
    // An unreachable revision is going away: let it drop straight to nothing.
    const maxDown = spec.reachable ? Math.floor(pods / spec.maxScaleDownRate) : 0;

    const stableWanted = Math.ceil(observed.stable / spec.targetValue);
    const panicWanted = Math.ceil(observed.panic / spec.targetValue);
    let stablePods = clamp(stableWanted, maxDown, maxUp);
    let panicPods = clamp(panicWanted, maxDown, maxUp);
    if (spec.activationScale > 1) {
      if (stableWanted > 0) stablePods = Math.max(stablePods, spec.activationScale);
      if (panicWanted > 0) panicPods = Math.max(panicPods, spec.activationScale);
    }

    let { panicSinceMs, maxPanicPods } = this;
    if (panicWanted / pods >= spec.panicThreshold) {
      panicSinceMs = nowMs;
    } else if (panicSinceMs !== undefined && nowMs > panicSinceMs + spec.stableWindowMs) {
      // A whole stable window without a burst: the surge is now in the stable average.
      panicSinceMs = undefined;
      maxPanicPods = 0;
    }

    if (panicSinceMs === undefined) return { undelayed: stablePods, panicSinceMs, maxPanicPods };
    // The stable window can briefly see more than the panic window; provision for both.
    maxPanicPods = Math.max(maxPanicPods, stablePods, panicPods);
    return { undelayed: maxPanicPods, panicSinceMs, maxPanicPods };
  }
}

// Without a delay there is no window at all: even a one-slot window would keep the larger
// of two decisions made within the same slot rather than the latest.
function newDelayWindow(delayMs: number): SlidingMax | undefined {
  return delayMs > 0 ? new SlidingMax(delayMs, TICK_INTERVAL_MS) : undefined;
}

function clamp(x: number, low: number, high: number): number {
  return Math.min(Math.max(x, low), high);
}

function excessBurstCapacity(spec: DeciderSpec, readyPods: number, panicLoad: number): number {
  if (spec.targetBurstCapacity === 0) return 0;
  if (spec.targetBurstCapacity < 0) return -1;
  return Math.floor(readyPods * spec.totalValue - spec.targetBurstCapacity - panicLoad);
}
