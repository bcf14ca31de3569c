// The autoscaler's in-memory state: one RevisionScaler and its metrics per PodAutoscaler, each
// deciding every TICK_INTERVAL_MS, fed by the collector and by activator pushes
// (upstream pkg/autoscaler/scaling/multiscaler.go).
import type { Clock, Timer } from '../../lib/clock.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import type { ScrapeSink, ScrapeTarget } from '../collector/collector.ts';
import type { PodSource } from '../collector/podSource.ts';
import { RevisionMetrics, type Stat } from '../metrics/revisionMetrics.ts';
import type { RevisionAutoscaling } from '../revisionAutoscaling.ts';
import { TICK_INTERVAL_MS } from '../scaling/decider.ts';
import { RevisionScaler, type DeciderStatus, type TickResult } from '../scaling/revisionScaler.ts';
import type { AutoscalerMetrics, RevisionMetricLabels } from './metrics.ts';

export interface RevisionScalerTarget {
  namespace: string;
  revision: string;
  settings: RevisionAutoscaling;
  labels: RevisionMetricLabels;
}

export interface RevisionScalersOptions {
  clock: Clock;
  pods: PodSource;
  metrics: AutoscalerMetrics;
  /** The decider's status moved in a way the PodAutoscaler reconciler acts on. */
  onStatusChange(key: string): void;
  onPanicChange(key: string, panicking: boolean): void;
  log?: Logger;
}

interface Entry {
  target: RevisionScalerTarget;
  metrics: RevisionMetrics;
  scaler: RevisionScaler;
  panicking: boolean;
  timer: Timer;
}

/** target-burst-capacity −1 keeps the activator in the path; it alone reports, nobody scrapes. */
const isScraped = (settings: RevisionAutoscaling) => settings.targetBurstCapacity !== -1;

export class RevisionScalers implements ScrapeSink {
  readonly #options: RevisionScalersOptions;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();

  constructor(options: RevisionScalersOptions) {
    this.#options = options;
    this.#log = options.log ?? createLogger('revision-scalers');
  }

  /** Creates the revision's scaler, or brings its settings up to date; returns its status. */
  ensure(key: string, target: RevisionScalerTarget): DeciderStatus {
    const { clock } = this.#options;
    const existing = this.#entries.get(key);
    const metricsSpec = {
      stableWindowMs: target.settings.stableWindowMs,
      panicWindowMs: target.settings.panicWindowMs,
      scraped: isScraped(target.settings),
    };
    if (existing) {
      existing.target = target;
      existing.metrics.update(metricsSpec, clock.now());
      existing.scaler.update(target.settings);
      return existing.scaler.status;
    }
    const metrics = new RevisionMetrics({ ...metricsSpec, aggregation: target.settings.aggregation });
    const scaler = new RevisionScaler({
      spec: target.settings,
      metrics,
      clock,
      readyPods: this.#readyPods(target),
    });
    const entry: Entry = { target, metrics, scaler, panicking: false, timer: this.#schedule(key) };
    this.#entries.set(key, entry);
    return scaler.status;
  }

  status(key: string): DeciderStatus | undefined {
    return this.#entries.get(key)?.scaler.status;
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.timer.cancel();
    this.#entries.delete(key);
    this.#options.metrics.forget(entry.target.labels);
  }

  stop(): void {
    for (const key of [...this.#entries.keys()]) this.delete(key);
  }

  scrapeTargets(): ScrapeTarget[] {
    return [...this.#entries]
      .filter(([, e]) => isScraped(e.target.settings))
      .map(([key, e]) => ({
        key,
        namespace: e.target.namespace,
        revision: e.target.revision,
        stableWindowMs: e.target.settings.stableWindowMs,
      }));
  }

  /** A scrape's estimate: recorded, and decided on at once if it asks for more pods. */
  recordScraped(key: string, atMs: number, stat: Stat): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.metrics.record(atMs, stat);
    try {
      const result = entry.scaler.surge(this.#readyPods(entry.target));
      if (result) this.#handle(key, entry, result);
    } catch (error) {
      this.#log.error('decision failed', { revision: key, error });
    }
  }

  /**
   * A stat pushed by an activator: recorded, and decided on at once if it is the first load on
   * a revision at zero or asks for more pods. False when no PodAutoscaler for the revision is known here.
   */
  push(key: string, stat: Stat): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    entry.metrics.record(this.#options.clock.now(), stat);
    const readyPods = this.#readyPods(entry.target);
    const result = entry.scaler.poke(stat, readyPods) ?? entry.scaler.surge(readyPods);
    if (result) this.#handle(key, entry, result);
    return true;
  }

  #schedule(key: string): Timer {
    return this.#options.clock.setTimeout(() => {
      const entry = this.#entries.get(key);
      if (!entry) return;
      entry.timer = this.#schedule(key);
      this.#tick(key, entry);
    }, TICK_INTERVAL_MS);
  }

  #tick(key: string, entry: Entry): void {
    try {
      this.#handle(key, entry, entry.scaler.tick(this.#readyPods(entry.target)));
    } catch (error) {
      this.#log.error('decision failed', { revision: key, error });
    }
  }

  #handle(key: string, entry: Entry, result: TickResult): void {
    if (!result.decided) return;
    const { settings, labels } = entry.target;
    const observed = entry.metrics.observe(settings.metric, this.#options.clock.now());
    this.#log.debug('decided', { revision: key, ...result.decision, observed });
    this.#options.metrics.recordDecision(labels, {
      metric: settings.metric,
      desiredPods: result.decision.desiredPods,
      excessBurstCapacity: result.decision.excessBurstCapacity,
      panicking: result.decision.panicking,
      stable: observed?.stable ?? 0,
      panic: observed?.panic ?? 0,
      target: settings.targetValue,
    });
    if (result.decision.panicking !== entry.panicking) {
      entry.panicking = result.decision.panicking;
      this.#options.onPanicChange(key, entry.panicking);
    }
    if (result.changed) this.#options.onStatusChange(key);
  }

  #readyPods(target: RevisionScalerTarget): number {
    return this.#options.pods.readyPods(target.namespace, target.revision).length;
  }
}
