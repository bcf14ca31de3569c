// Request metrics for the revision's owner, on the user-metrics port (9091), named as Knative's
// OpenTelemetry instruments appear in Prometheus (S:pkg/queue/request_metric.go) and labelled with
// the pod's identity as Knative's queue-proxy resource (S:pkg/queue/sharedmain/otel.go), so a
// dashboard groups them by revision, configuration or service.
import type { Breaker } from '../lib/breaker.ts';
import { family, labelSet, processMetrics, type Labels } from './prometheus.ts';

const BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Whose requests these are: the revision's names and the pod's. */
export interface RevisionIdentity {
  namespace: string;
  /** '' for a revision no Service owns. */
  service: string;
  configuration: string;
  revision: string;
  pod: string;
}

function identityLabels(identity: RevisionIdentity): Labels {
  return {
    k8s_namespace_name: identity.namespace,
    ...(identity.service === '' ? {} : { kn_service_name: identity.service }),
    kn_configuration_name: identity.configuration,
    kn_revision_name: identity.revision,
    k8s_pod_name: identity.pod,
    k8s_container_name: 'queue-proxy',
  };
}

/** One status code's durations: a count per bucket (not cumulative), the sum and the count. */
interface Series {
  buckets: number[];
  sum: number;
  count: number;
}

export class UserMetrics {
  #breaker: Breaker | undefined;
  #byStatus = new Map<number, Series>();
  readonly #labels: Labels;

  constructor(breaker: Breaker | undefined, identity: RevisionIdentity) {
    this.#breaker = breaker;
    this.#labels = identityLabels(identity);
  }

  observe(status: number, durationMs: number): void {
    let series = this.#byStatus.get(status);
    if (series === undefined) {
      series = { buckets: new Array<number>(BUCKETS_SECONDS.length).fill(0), sum: 0, count: 0 };
      this.#byStatus.set(status, series);
    }
    const seconds = durationMs / 1000;
    const bucket = BUCKETS_SECONDS.findIndex((le) => seconds <= le);
    if (bucket >= 0) series.buckets[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  text(): string {
    const name = 'kn_serving_invocation_duration_seconds';
    const samples: Array<readonly [string, number]> = [];
    for (const [status, series] of this.#byStatus) {
      const labels = { ...this.#labels, http_response_status_code: String(status) };
      let cumulative = 0;
      BUCKETS_SECONDS.forEach((le, i) => {
        cumulative += series.buckets[i]!;
        samples.push([`${name}_bucket${labelSet({ ...labels, le: String(le) })}`, cumulative]);
      });
      samples.push([`${name}_bucket${labelSet({ ...labels, le: '+Inf' })}`, series.count]);
      samples.push([`${name}_sum${labelSet(labels)}`, series.sum]);
      samples.push([`${name}_count${labelSet(labels)}`, series.count]);
    }
    const breaker = this.#breaker;
    return [
      family(name, 'histogram', 'The duration of requests to the user container, queueing included', samples),
      family('kn_serving_queue_depth', 'gauge', 'Requests in the user container or waiting for it', [
        [`kn_serving_queue_depth${labelSet(this.#labels)}`, breaker ? breaker.active + breaker.queued : 0],
      ]),
      processMetrics(this.#labels),
    ].join('\n');
  }
}
