// Test support: a revision's settings from real ConfigMap and annotation text, and a replay
// of per-second metric streams into RevisionMetrics with the decider ticked on a FakeClock.
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { AUTOSCALING_GROUP, parseAutoscalingAnnotations } from '../../../lib/config/autoscalingAnnotations.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import { RevisionMetrics, type Stat } from '../../../autoscaler/metrics/revisionMetrics.ts';
import { resolveRevisionAutoscaling, type RevisionAutoscaling } from '../../../autoscaler/revisionAutoscaling.ts';
import { RevisionScaler, type TickResult } from '../../../autoscaler/scaling/revisionScaler.ts';
import type { Decision } from '../../../autoscaler/scaling/decider.ts';

export interface RevisionOptions {
  /** config-autoscaler data. */
  config?: Record<string, string>;
  /** autoscaling.knative.dev/ annotations, without the prefix. */
  annotations?: Record<string, string>;
  containerConcurrency?: number;
  reachable?: boolean;
}

export function revisionSettings(options: RevisionOptions = {}): RevisionAutoscaling {
  const config = parseAutoscalerConfig(options.config ?? {});
  const annotations = Object.fromEntries(
    Object.entries(options.annotations ?? {}).map(([k, v]) => [`${AUTOSCALING_GROUP}/${k}`, v]),
  );
  const { values, issues } = parseAutoscalingAnnotations(annotations, config);
  if (issues.length > 0) throw new Error(`test annotations rejected: ${JSON.stringify(issues)}`);
  return resolveRevisionAutoscaling(config, values, {
    containerConcurrency: options.containerConcurrency ?? 0,
    reachable: options.reachable ?? true,
  });
}

export const load = (concurrency: number, requests = 0): Stat => ({
  averageConcurrentRequests: concurrency,
  averageProxiedConcurrentRequests: 0,
  requestCount: requests,
  proxiedRequestCount: 0,
});

export class Replay {
  readonly clock = new FakeClock(0);
  readonly settings: RevisionAutoscaling;
  readonly metrics: RevisionMetrics;
  readonly scaler: RevisionScaler;
  private nextSecond = 0;

  constructor(settings: RevisionAutoscaling, readyPodsAtStart = 0) {
    this.settings = settings;
    this.metrics = new RevisionMetrics({ ...settings, scraped: true });
    this.scaler = new RevisionScaler({
      spec: settings,
      metrics: this.metrics,
      clock: this.clock,
      readyPods: readyPodsAtStart,
    });
  }

  /** Records stat once per second from the next unrecorded second through untilSecond; the clock ends there. */
  stream(untilSecond: number, stat: Stat): this {
    for (; this.nextSecond <= untilSecond; this.nextSecond++) {
      this.moveTo(this.nextSecond);
      this.metrics.record(this.clock.now(), stat);
    }
    return this;
  }

  moveTo(second: number): void {
    this.clock.advance(second * 1000 - this.clock.now());
  }

  tick(readyPods: number): Decision {
    return decided(this.scaler.tick(readyPods));
  }
}

export function decided(result: TickResult | undefined): Decision {
  if (!result?.decided) throw new Error('expected a decision');
  return result.decision;
}
