// Request metrics for the revision's owner, on the user-metrics port (9091), named as Knative's
// OpenTelemetry instruments appear in Prometheus (S:pkg/queue/request_metric.go).
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Breaker } from '../lib/breaker.ts';

type HistogramChild = ReturnType<Histogram['labels']>;

export class UserMetrics {
  #duration: Histogram;
  #byStatus = new Map<number, HistogramChild>();

  constructor(registry: Registry, breaker: Breaker | undefined) {
    this.#duration = new Histogram({
      name: 'kn_serving_invocation_duration_seconds',
      help: 'The duration of requests to the user container, queueing included',
      labelNames: ['http_response_status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    new Gauge({
      name: 'kn_serving_queue_depth',
      help: 'Requests in the user container or waiting for it',
      registers: [registry],
      collect() { this.set(breaker ? breaker.active + breaker.queued : 0); },
    });
  }

  observe(status: number, durationMs: number): void {
    let child = this.#byStatus.get(status);
    if (child === undefined) {
      child = this.#duration.labels(String(status));
      this.#byStatus.set(status, child);
    }
    child.observe(durationMs / 1000);
  }
}
