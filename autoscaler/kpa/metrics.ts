// The autoscaler's per-revision gauges under the names Knative's OpenTelemetry metrics get from
// its Prometheus exporter (upstream pkg/autoscaler/scaling/metrics.go and
// pkg/reconciler/autoscaling/kpa/metrics.go: kn.revision.pods.desired → kn_revision_pods_desired),
// so Knative's dashboards and alerts read them unchanged.
import { Gauge, type Registry } from 'prom-client';
import { sharedMetric } from '../../lib/metrics.ts';
import type { PodCounts } from '../collector/podSource.ts';
import type { ScalingMetric } from '../metrics/revisionMetrics.ts';

const LABELS = ['k8s_namespace_name', 'kn_service_name', 'kn_configuration_name', 'kn_revision_name'] as const;
type Label = (typeof LABELS)[number];
export type RevisionMetricLabels = Record<Label, string>;

const NAMES = {
  desiredPods: ['kn_revision_pods_desired', 'Number of pods the autoscaler wants to allocate'],
  excessBurstCapacity: ['kn_revision_capacity_excess', 'Excess burst capacity observed over the stable window'],
  panicMode: ['kn_revision_panic_mode', 'If greater than 0 the autoscaler is in panic mode'],
  concurrencyStable: [
    'kn_revision_concurrency_stable',
    'Average of request count per observed pod over the stable window',
  ],
  concurrencyPanic: [
    'kn_revision_concurrency_panic',
    'Average of request count per observed pod over the panic window',
  ],
  concurrencyTarget: ['kn_revision_concurrency_target', 'The desired concurrent requests for each pod'],
  rpsStable: ['kn_revision_rps_stable', 'Average of requests-per-second per observed pod over the stable window'],
  rpsPanic: ['kn_revision_rps_panic', 'Average of requests-per-second per observed pod over the panic window'],
  rpsTarget: ['kn_revision_rps_target', 'The desired requests-per-second for each pod'],
  requestedPods: ['kn_revision_pods_requested', 'Number of pods autoscaler requested from Kubernetes'],
  readyPods: ['kn_revision_pods_count', 'Number of pods that are allocated currently'],
  notReadyPods: ['kn_revision_pods_not_ready_count', 'Number of pods that are not ready currently'],
  pendingPods: ['kn_revision_pods_pending_count', 'Number of pods that are pending currently'],
  terminatingPods: ['kn_revision_pods_terminating_count', 'Number of pods that are terminating currently'],
} as const;

type GaugeKey = keyof typeof NAMES;

export interface DecisionSample {
  metric: ScalingMetric;
  desiredPods: number;
  excessBurstCapacity: number;
  panicking: boolean;
  stable: number;
  panic: number;
  target: number;
}

export class AutoscalerMetrics {
  readonly #gauges: Record<GaugeKey, Gauge<Label>>;

  constructor(registry: Registry) {
    const gauges = {} as Record<GaugeKey, Gauge<Label>>;
    for (const [key, [name, help]] of Object.entries(NAMES) as [GaugeKey, readonly [string, string]][]) {
      gauges[key] = sharedMetric(
        registry,
        name,
        (registers) => new Gauge({ name, help, labelNames: LABELS, registers }),
      );
    }
    this.#gauges = gauges;
  }

  recordDecision(labels: RevisionMetricLabels, sample: DecisionSample): void {
    const g = this.#gauges;
    g.desiredPods.set(labels, sample.desiredPods);
    g.excessBurstCapacity.set(labels, sample.excessBurstCapacity);
    g.panicMode.set(labels, sample.panicking ? 1 : 0);
    const [stable, panic, target] =
      sample.metric === 'rps'
        ? [g.rpsStable, g.rpsPanic, g.rpsTarget]
        : [g.concurrencyStable, g.concurrencyPanic, g.concurrencyTarget];
    stable.set(labels, sample.stable);
    panic.set(labels, sample.panic);
    target.set(labels, sample.target);
  }

  /**
   * `want` is the scale the PodAutoscaler asks for, −1 when unknown: the requested gauge then
   * keeps its last value, as a restarted autoscaler has not yet decided anything new.
   */
  recordPods(labels: RevisionMetricLabels, want: number, pods: PodCounts): void {
    const g = this.#gauges;
    if (want >= 0) g.requestedPods.set(labels, want);
    g.readyPods.set(labels, pods.ready);
    g.notReadyPods.set(labels, pods.notReady);
    g.pendingPods.set(labels, pods.pending);
    g.terminatingPods.set(labels, pods.terminating);
  }

  /** A deleted revision must not linger on dashboards with its last values. */
  forget(labels: RevisionMetricLabels): void {
    for (const gauge of Object.values(this.#gauges)) gauge.remove(labels);
  }
}
