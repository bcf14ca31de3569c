// What the autoscaler reads from a pod: the request statistics of lib/stats served as
// Prometheus text with the gauges Knative's queue-proxy served.
import type { StatsReport } from '../lib/stats/requestStats.ts';
import { family, labelSet } from './prometheus.ts';

export interface StatLabels {
  namespace: string;
  configuration: string;
  revision: string;
  pod: string;
}

/**
 * The gauges Knative's queue-proxy served to the autoscaler in Prometheus text
 * (S:pkg/queue/prometheus_stats_reporter.go before #12961), with the same names and labels.
 */
export class AutoscalerStatsReporter {
  #reportingPeriodSeconds: number;
  #startedAt: number;
  #labels: string;
  // Present from the first scrape, as Knative's labelled gauges were.
  #last: StatsReport = { averageConcurrency: 0, averageProxiedConcurrency: 0, requestCount: 0, proxiedRequestCount: 0 };
  #lastAt: number;

  constructor(labels: StatLabels, reportingPeriodMs: number, startedAt: number) {
    this.#reportingPeriodSeconds = reportingPeriodMs / 1000;
    this.#startedAt = startedAt;
    this.#lastAt = startedAt;
    this.#labels = labelSet({
      destination_namespace: labels.namespace,
      destination_configuration: labels.configuration,
      destination_revision: labels.revision,
      destination_pod: labels.pod,
      component: 'queue-proxy',
    });
  }

  report(stats: StatsReport, now: number): void {
    this.#last = stats;
    this.#lastAt = now;
  }

  /** The last report, in Prometheus text. */
  text(): string {
    const stats = this.#last;
    const gauge = (name: string, help: string, value: number) =>
      family(name, 'gauge', help, [[`${name}${this.#labels}`, value]]);
    return [
      gauge(
        'queue_requests_per_second',
        'Number of requests per second',
        stats.requestCount / this.#reportingPeriodSeconds,
      ),
      // Knative kept the historical name `operations_per_second` for the proxied rate.
      gauge(
        'queue_proxied_operations_per_second',
        'Number of proxied requests per second',
        stats.proxiedRequestCount / this.#reportingPeriodSeconds,
      ),
      gauge(
        'queue_average_concurrent_requests',
        'Number of requests currently being handled by this pod',
        stats.averageConcurrency,
      ),
      gauge(
        'queue_average_proxied_concurrent_requests',
        'Number of proxied requests currently being handled by this pod',
        stats.averageProxiedConcurrency,
      ),
      gauge(
        'process_uptime',
        'The number of seconds that the process has been up',
        (this.#lastAt - this.#startedAt) / 1000,
      ),
    ].join('\n');
  }
}
