// What the autoscaler reads from a pod: time-weighted average concurrency and request rate per
// reporting period, also counted separately for requests the activator proxied
// (N:pkg/http/stats/request.go). Proxied requests are part of the totals too.
import { Gauge, type Registry } from 'prom-client';

type GaugeChild = ReturnType<Gauge['labels']>;

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
  #requestsPerSecond: GaugeChild;
  #proxiedRequestsPerSecond: GaugeChild;
  #averageConcurrency: GaugeChild;
  #averageProxiedConcurrency: GaugeChild;
  #uptime: GaugeChild;

  constructor(registry: Registry, labels: StatLabels, reportingPeriodMs: number, startedAt: number) {
    this.#reportingPeriodSeconds = reportingPeriodMs / 1000;
    this.#startedAt = startedAt;
    const values = {
      destination_namespace: labels.namespace,
      destination_configuration: labels.configuration,
      destination_revision: labels.revision,
      destination_pod: labels.pod,
    };
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: Object.keys(values), registers: [registry] }).labels(values);
    // Knative kept the historical name `operations_per_second` for the proxied rate.
    this.#requestsPerSecond = gauge('queue_requests_per_second', 'Number of requests per second');
    this.#proxiedRequestsPerSecond = gauge('queue_proxied_operations_per_second', 'Number of proxied requests per second');
    this.#averageConcurrency = gauge('queue_average_concurrent_requests', 'Number of requests currently being handled by this pod');
    this.#averageProxiedConcurrency = gauge('queue_average_proxied_concurrent_requests', 'Number of proxied requests currently being handled by this pod');
    this.#uptime = gauge('process_uptime', 'The number of seconds that the process has been up');
    // Present from the first scrape, as Knative's labelled gauges were.
    this.report({ averageConcurrency: 0, averageProxiedConcurrency: 0, requestCount: 0, proxiedRequestCount: 0 }, startedAt);
  }

  report(stats: StatsReport, now: number): void {
    this.#requestsPerSecond.set(stats.requestCount / this.#reportingPeriodSeconds);
    this.#proxiedRequestsPerSecond.set(stats.proxiedRequestCount / this.#reportingPeriodSeconds);
    this.#averageConcurrency.set(stats.averageConcurrency);
    this.#averageProxiedConcurrency.set(stats.averageProxiedConcurrency);
    this.#uptime.set((now - this.#startedAt) / 1000);
  }
}
