// Per-route, per-revision request metrics, named and labelled as the activator's and Knative's
// OpenTelemetry instruments appear in Prometheus: `http_server_request_duration_seconds` (whose
// _count is the request count) with k8s_namespace_name, kn_route_name (the KIngress, which is the
// Route's name), kn_revision_name and http_response_status_code; component="gateway" tells it
// from the activator's.
//
// Counted in plain numbers per series and handed to prom-client only when scraped: prom-client's
// labelled inc/observe validate and hash the label set on every call, which costs more than the
// counting itself on the gateway's per-request path.
import type { Metric, Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS, LATENCY_SLOTS, latencySlot } from '../lib/stats/revisionFigures.ts';
import type { RevisionStats } from './revisionStats.ts';

const DURATION = 'http_server_request_duration_seconds';

type LabelName = 'k8s_namespace_name' | 'kn_route_name' | 'kn_revision_name' | 'http_response_status_code';
type Labels = Record<LabelName, string>;

interface Series {
  readonly labels: Labels;
  count: number;
  /** Milliseconds, as observed; exposed in seconds. */
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly buckets: Float64Array;
  /** The revision's live window (revisionStats.ts); none for requests no revision took. */
  readonly window: ((status: number, latencyMs: number) => void) | undefined;
}

interface SampleValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * What the registry reads of a metric when scraped: name, help, type and values. prom-client's
 * typings name only its own classes (and give `type` as an enum its runtime does not use).
 */
function collected(name: string, help: string, type: 'histogram', values: () => SampleValue[]): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: values() }),
  };
  return metric as unknown as Metric;
}

export class GatewayMetrics {
  readonly #series = new Map<string, Series>();
  /** Series by request owner (a routing decision, shared by every request it routes) and status: no key to build per request. */
  readonly #byOwner = new WeakMap<object, Map<number, Series>>();

  readonly #windows: RevisionStats | undefined;

  constructor(registry: Registry, windows?: RevisionStats) {
    this.#windows = windows;
    registry.registerMetric(
      collected(
        DURATION,
        'Duration of requests through the gateway, from arrival to the end of the response',
        'histogram',
        () => [...this.#series.values()].flatMap(histogramValues),
      ),
    );
  }

  /**
   * `owner` is an object that stands for (namespace, route, revision) for as long as it lives,
   * or undefined to look the series up by name. `route` and `revision` are '' for requests no
   * route took (unknown host, no path).
   */
  observe(
    owner: object | undefined,
    namespace: string,
    route: string,
    revision: string,
    status: number,
    latencyMs: number,
  ): void {
    let series: Series | undefined;
    let owned: Map<number, Series> | undefined;
    if (owner !== undefined) {
      owned = this.#byOwner.get(owner);
      if (owned === undefined) this.#byOwner.set(owner, (owned = new Map()));
      series = owned.get(status);
    }
    if (series === undefined) {
      series = this.#named(namespace, route, revision, status);
      owned?.set(status, series);
    }
    series.count++;
    series.sum += latencyMs;
    series.buckets[latencySlot(latencyMs)]!++;
    series.window?.(status, latencyMs);
  }

  #named(namespace: string, route: string, revision: string, status: number): Series {
    const key = `${namespace}/${route}/${revision}/${status}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        labels: {
          k8s_namespace_name: namespace,
          kn_route_name: route,
          kn_revision_name: revision,
          http_response_status_code: String(status),
        },
        count: 0,
        sum: 0,
        buckets: new Float64Array(LATENCY_SLOTS),
        window: revision === '' ? undefined : this.#windows?.recorder(namespace, revision),
      };
      this.#series.set(key, series);
    }
    return series;
  }
}

function histogramValues(series: Series): SampleValue[] {
  const values: SampleValue[] = [];
  let cumulative = 0;
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
    cumulative += series.buckets[i]!;
    values.push({
      metricName: `${DURATION}_bucket`,
      labels: { ...series.labels, le: LATENCY_BUCKETS_MS[i]! / 1000 },
      value: cumulative,
    });
  }
  values.push({ metricName: `${DURATION}_bucket`, labels: { ...series.labels, le: '+Inf' }, value: series.count });
  values.push({ metricName: `${DURATION}_sum`, labels: series.labels, value: series.sum / 1000 });
  values.push({ metricName: `${DURATION}_count`, labels: series.labels, value: series.count });
  return values;
}
