// Per-route, per-revision request metrics. Names and labels follow the activator's
// (`activator_request_count`, `activator_request_latencies` in milliseconds, with
// namespace_name, revision_name, response_code, response_code_class), so Knative's dashboards
// need only the prefix changed; route_name is the KIngress (= Route) name.
import { Counter, Histogram, type Registry } from 'prom-client';

/** Knative's request-latency distribution, in milliseconds. */
const LATENCY_BUCKETS_MS = [5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const LABELS = ['namespace_name', 'route_name', 'revision_name', 'response_code', 'response_code_class'] as const;

interface Series {
  count: Counter.Internal;
  latency: Histogram.Internal<(typeof LABELS)[number]>;
}

export class GatewayMetrics {
  readonly #requests: Counter<(typeof LABELS)[number]>;
  readonly #latencies: Histogram<(typeof LABELS)[number]>;
  // prom-client hashes the label object on every call; a request needs one string key instead.
  readonly #series = new Map<string, Series>();

  constructor(registry: Registry) {
    this.#requests = new Counter({ name: 'gateway_request_count', help: 'Requests answered by the gateway', labelNames: LABELS, registers: [registry] });
    this.#latencies = new Histogram({
      name: 'gateway_request_latencies', help: 'Time from request arrival to the end of the response, in milliseconds',
      labelNames: LABELS, buckets: LATENCY_BUCKETS_MS, registers: [registry],
    });
  }

  /** `route` and `revision` are '' for requests no route took (unknown host, no path). */
  observe(namespace: string, route: string, revision: string, status: number, latencyMs: number): void {
    const key = `${namespace}/${route}/${revision}/${status}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels = {
        namespace_name: namespace, route_name: route, revision_name: revision,
        response_code: String(status), response_code_class: `${Math.floor(status / 100)}xx`,
      };
      series = { count: this.#requests.labels(labels), latency: this.#latencies.labels(labels) };
      this.#series.set(key, series);
    }
    series.count.inc();
    series.latency.observe(latencyMs);
  }
}
