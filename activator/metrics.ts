// The activator's metrics, named as Knative's OpenTelemetry instruments appear in Prometheus
// (S:pkg/activator/handler/metrics.go, S:pkg/activator/metrics.go), so dashboards built for
// Knative read them unchanged. The pilotlight_* ones cover what Knative has no instrument for.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const REVISION_LABELS = ['k8s_namespace_name', 'kn_revision_name'] as const;

export interface RevisionGauges {
  queued(): number;
  active(): number;
  /** Whether new requests go to the revision's reserved instance because no standard pod is healthy. */
  servingFromReserved(): boolean;
}

export class ActivatorMetrics {
  #concurrency: Gauge<(typeof REVISION_LABELS)[number]>;
  #reachable: Gauge;
  #connectionErrors: Counter;
  #servingModeChanges: Counter<(typeof REVISION_LABELS)[number] | 'from' | 'to'>;
  #duration: Histogram<'k8s_namespace_name' | 'kn_revision_name' | 'http_response_status_code'>;

  /** `revisions` lists, at scrape time, each revision's held and proxied request counts. */
  constructor(
    registry: Registry,
    revisions: () => Iterable<[namespace: string, revision: string, gauges: RevisionGauges]>,
  ) {
    this.#concurrency = new Gauge({
      name: 'kn_revision_request_concurrency',
      help: 'Concurrent requests that are routed to Activator',
      labelNames: REVISION_LABELS,
      registers: [registry],
    });
    const perRevision = (name: string, help: string, read: (gauges: RevisionGauges) => number) =>
      new Gauge({
        name,
        help,
        labelNames: REVISION_LABELS,
        registers: [registry],
        collect() {
          this.reset();
          for (const [namespace, revision, gauges] of revisions()) this.labels(namespace, revision).set(read(gauges));
        },
      });
    perRevision(
      'kn_revision_request_queued',
      'Number of requests currently queued in the activator waiting for capacity',
      (g) => g.queued(),
    );
    perRevision('kn_revision_request_active', 'Number of requests currently being proxied by the activator', (g) =>
      g.active(),
    );
    perRevision(
      'pilotlight_activator_serving_from_reserved',
      "Whether the activator sends the revision's new requests to its reserved instance, no standard pod being healthy (1 = yes, 0 = no)",
      (g) => (g.servingFromReserved() ? 1 : 0),
    );
    this.#servingModeChanges = new Counter({
      name: 'pilotlight_activator_serving_mode_changes_total',
      help: "Times the pods taking a revision's new requests changed to or from its reserved instance (from/to: standard, reserved, none)",
      labelNames: [...REVISION_LABELS, 'from', 'to'],
      registers: [registry],
    });
    this.#reachable = new Gauge({
      name: 'kn_activator_stats_conn_reachable',
      help: 'Whether a peer is reachable from the activator (1 = reachable, 0 = not reachable)',
      labelNames: ['peer'],
      registers: [registry],
    });
    this.#connectionErrors = new Counter({
      name: 'kn_activator_stats_conn_errors_total',
      help: 'Number of connection errors from the activator',
      labelNames: ['peer'],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of requests through the activator, holding time included',
      labelNames: ['k8s_namespace_name', 'kn_revision_name', 'http_response_status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
  }

  requestConcurrency(namespace: string, revision: string, value: number): void {
    this.#concurrency.labels(namespace, revision).set(value);
  }

  forgetRevision(namespace: string, revision: string): void {
    this.#concurrency.remove(namespace, revision);
  }

  servingModeChanged(namespace: string, revision: string, from: string, to: string): void {
    this.#servingModeChanges.labels(namespace, revision, from, to).inc();
  }

  statsEndpointReachable(reachable: boolean): void {
    this.#reachable.labels('autoscaler').set(reachable ? 1 : 0);
    if (!reachable) this.#connectionErrors.labels('autoscaler').inc();
  }

  requestDone(namespace: string, revision: string, status: number, durationMs: number): void {
    this.#duration.labels(namespace, revision, String(status)).observe(durationMs / 1000);
  }
}
