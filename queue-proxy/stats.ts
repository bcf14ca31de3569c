// What the autoscaler reads from a pod: time-weighted average concurrency and request rate per
// reporting period, also counted separately for requests the activator proxied
// (N:pkg/http/stats/request.go). Proxied requests are part of the totals too.
import { family, labelSet } from './prometheus.ts';

export interface StatsReport {
  averageConcurrency: number;
  averageProxiedConcurrency: number;
  requestCount: number;
  proxiedRequestCount: number;
}

export class RequestStats {
  #concurrency = 0;
  #proxiedConcurrency = 0;
  #requestCount = 0;
  #proxiedRequestCount = 0;
  #weighted = 0;
  #proxiedWeighted = 0;
  #windowStart: number;
  #lastChange: number;

  constructor(now: number) {
    this.#windowStart = now;
    this.#lastChange = now;
  }

  requestIn(now: number, proxied: boolean): void {
    this.#integrate(now);
    this.#concurrency++;
    this.#requestCount++;
    if (proxied) {
      this.#proxiedConcurrency++;
      this.#proxiedRequestCount++;
    }
  }

  requestOut(now: number, proxied: boolean): void {
    this.#integrate(now);
    this.#concurrency--;
    if (proxied) this.#proxiedConcurrency--;
  }

  /** Closes the window ending at `now` and starts the next one. */
  report(now: number): StatsReport {
    this.#integrate(now);
    const elapsed = now - this.#windowStart;
    const report: StatsReport = {
      averageConcurrency: elapsed > 0 ? this.#weighted / elapsed : this.#concurrency,
      averageProxiedConcurrency: elapsed > 0 ? this.#proxiedWeighted / elapsed : this.#proxiedConcurrency,
      requestCount: this.#requestCount,
      proxiedRequestCount: this.#proxiedRequestCount,
    };
    this.#weighted = 0;
    this.#proxiedWeighted = 0;
    this.#requestCount = 0;
    this.#proxiedRequestCount = 0;
    this.#windowStart = now;
    return report;
  }

  #integrate(now: number): void {
    const dt = now - this.#lastChange;
    if (dt > 0) {
      this.#weighted += this.#concurrency * dt;
      this.#proxiedWeighted += this.#proxiedConcurrency * dt;
      this.#lastChange = now;
    }
  }
}

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
