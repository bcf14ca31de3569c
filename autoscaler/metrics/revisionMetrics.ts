// The four windows the KPA keeps per revision — stable and panic, for concurrency and for
// requests per second — fed by scraped and pushed stats (upstream pkg/autoscaler/metrics/collector.go).
import { newWindowAverager, type AggregationAlgorithm, type WindowAverager } from './windowAverager.ts';

export type ScalingMetric = 'concurrency' | 'rps';

/** One report from a queue-proxy (or the scraper's revision-wide estimate) or from an activator. */
export interface Stat {
  podName?: string;
  averageConcurrentRequests: number;
  averageProxiedConcurrentRequests: number;
  requestCount: number;
  proxiedRequestCount: number;
}

/** Smoothed load of a revision as of one instant. */
export interface Observation {
  stable: number;
  panic: number;
}

/** What the decider reads; undefined means there is nothing to decide on yet. */
export interface MetricSource {
  observe(metric: ScalingMetric, nowMs: number): Observation | undefined;
}

export interface RevisionMetricsSpec {
  stableWindowMs: number;
  panicWindowMs: number;
  aggregation: AggregationAlgorithm;
  /**
   * False when nobody scrapes the pods (target-burst-capacity −1 keeps the activator in
   * the path, so it alone reports): silence then means no load rather than no data.
   */
  scraped: boolean;
}

interface Pair {
  stable: WindowAverager;
  panic: WindowAverager;
}

export class RevisionMetrics implements MetricSource {
  private scraped: boolean;
  private readonly windows: Record<ScalingMetric, Pair>;

  constructor(spec: RevisionMetricsSpec) {
    this.scraped = spec.scraped;
    // The algorithm comes from a revision annotation, which never changes after creation.
    const pair = (): Pair => ({
      stable: newWindowAverager(spec.aggregation, spec.stableWindowMs),
      panic: newWindowAverager(spec.aggregation, spec.panicWindowMs),
    });
    this.windows = { concurrency: pair(), rps: pair() };
  }

  update(spec: Omit<RevisionMetricsSpec, 'aggregation'>, nowMs: number): void {
    this.scraped = spec.scraped;
    for (const pair of Object.values(this.windows)) {
      pair.stable.resize(spec.stableWindowMs, nowMs);
      pair.panic.resize(spec.panicWindowMs, nowMs);
    }
  }

  record(atMs: number, stat: Stat): void {
    // Requests that came through an activator are reported by that activator too.
    const concurrency = stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
    const rps = stat.requestCount - stat.proxiedRequestCount;
    this.windows.concurrency.stable.record(atMs, concurrency);
    this.windows.concurrency.panic.record(atMs, concurrency);
    this.windows.rps.stable.record(atMs, rps);
    this.windows.rps.panic.record(atMs, rps);
  }

  observe(metric: ScalingMetric, nowMs: number): Observation | undefined {
    const { stable, panic } = this.windows[metric];
    if (this.scraped && stable.isEmpty(nowMs)) return undefined;
    return { stable: stable.average(nowMs), panic: panic.average(nowMs) };
  }
}
