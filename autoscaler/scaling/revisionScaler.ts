// One revision's decider with its published status: what the PodAutoscaler reconciler reads,
// and when it must be told to look again (upstream scalerRunner in pkg/autoscaler/scaling/multiscaler.go).
// It owns no timer: its owner calls tick() every TICK_INTERVAL_MS, surge() on scrapes and
// poke() on pushed stats.
import type { Clock } from '../../lib/clock.ts';
import type { MetricSource, Stat } from '../metrics/revisionMetrics.ts';
import { Decider, type Decision, type DeciderSpec } from './decider.ts';

export interface DeciderStatus {
  /** −1 until the first decision. */
  desiredScale: number;
  excessBurstCapacity: number;
}

export type TickResult =
  | { decided: false }
  | {
      decided: true;
      /** The status moved in a way the PodAutoscaler reconciler acts on: reconcile it. */
      changed: boolean;
      decision: Decision;
      status: DeciderStatus;
    };

/**
 * Before any decision, assume the revision comes up at its initial scale: the activator stays
 * in the path if that cannot cover target-burst-capacity.
 */
export function initialDeciderStatus(spec: DeciderSpec): DeciderStatus {
  const tbc = spec.targetBurstCapacity;
  return {
    desiredScale: -1,
    excessBurstCapacity: tbc === -1 || tbc === 0 ? tbc : Math.trunc(spec.initialScale * spec.totalValue - tbc),
  };
}

export interface RevisionScalerOptions {
  spec: DeciderSpec;
  metrics: MetricSource;
  clock: Clock;
  /** Ready pods when the scaler is created; more than one starts it in panic mode. */
  readyPods: number;
}

export class RevisionScaler {
  private readonly decider: Decider;
  private readonly metrics: MetricSource;
  private readonly clock: Clock;
  private spec: DeciderSpec;
  private current: DeciderStatus;

  constructor(options: RevisionScalerOptions) {
    this.spec = options.spec;
    this.metrics = options.metrics;
    this.clock = options.clock;
    this.decider = new Decider(options.spec, { nowMs: options.clock.now(), readyPods: options.readyPods });
    this.current = initialDeciderStatus(options.spec);
  }

  get status(): DeciderStatus {
    return { ...this.current };
  }

  update(spec: DeciderSpec): void {
    this.spec = spec;
    this.decider.update(spec);
  }

  /** One decision from the metrics as of now; none while the metrics have no data. */
  tick(readyPods: number): TickResult {
    const nowMs = this.clock.now();
    const observed = this.metrics.observe(this.spec.metric, nowMs);
    if (!observed) return { decided: false };
    const decision = this.decider.decide({ nowMs, readyPods, observed });
    const previous = this.current;
    this.current = { desiredScale: decision.desiredPods, excessBurstCapacity: decision.excessBurstCapacity };
    // The reconciler switches the activator in or out on the sign of the burst capacity alone.
    const changed =
      previous.desiredScale !== decision.desiredPods ||
      previous.excessBurstCapacity < 0 !== decision.excessBurstCapacity < 0;
    return { decided: true, changed, decision, status: this.status };
  }

  /**
   * Called after a scrape has been recorded. A load that asks for more pods than decided is
   * decided on at once rather than at the next tick, which may be two seconds away: upstream
   * waits, which bench/autoscaler-reaction.ts measures as up to a tick more on the reaction to
   * a step in load. Scaling down, and the first decision, still wait for their tick.
   */
  surge(readyPods: number): TickResult | undefined {
    if (this.current.desiredScale < 0) return undefined;
    const nowMs = this.clock.now();
    const observed = this.metrics.observe(this.spec.metric, nowMs);
    if (!observed || !this.decider.wouldScaleUp({ nowMs, readyPods, observed }, this.current.desiredScale))
      return undefined;
    return this.tick(readyPods);
  }

  /**
   * Called after a pushed stat has been recorded. A request reaching a revision scaled to
   * zero is decided on at once rather than at the next tick, so it waits for one pod start only.
   */
  poke(stat: Stat, readyPods: number): TickResult | undefined {
    if (this.current.desiredScale !== 0 || stat.averageConcurrentRequests === 0) return undefined;
    return this.tick(readyPods);
  }
}
