// Per-route, per-revision request metrics. Names and labels follow the activator's
// (`activator_request_count`, `activator_request_latencies` in milliseconds, with
// namespace_name, revision_name, response_code, response_code_class), so Knative's dashboards
// need only the prefix changed; route_name is the KIngress (= Route) name.
//
// Counted in plain numbers per series and handed to prom-client only when scraped: prom-client's
// labelled inc/observe validate and hash the label set on every call, which costs more than the
// counting itself on the gateway's per-request path.
import type { Metric, Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS, LATENCY_SLOTS, latencySlot } from '../lib/stats/revisionFigures.ts';
import type { RevisionStats } from './revisionStats.ts';

type LabelName = 'namespace_name' | 'route_name' | 'revision_name' | 'response_code' | 'response_code_class';
type Labels = Record<LabelName, string>;

interface Series {
  readonly labels: Labels;
  count: number;
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
function collected(name: string, help: string, type: 'counter' | 'histogram', values: () => SampleValue[]): Metric {
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
      collected('gateway_request_count', 'Requests answered by the gateway', 'counter', () =>
        [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.count })),
      ),
    );
    registry.registerMetric(
      collected(
        'gateway_request_latencies',
        'Time from request arrival to the end of the response, in milliseconds',
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
          namespace_name: namespace,
          route_name: route,
          revision_name: revision,
          response_code: String(status),
          response_code_class: `${Math.floor(status / 100)}xx`,
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
      metricName: 'gateway_request_latencies_bucket',
      labels: { ...series.labels, le: LATENCY_BUCKETS_MS[i]! },
      value: cumulative,
    });
  }
  values.push({
    metricName: 'gateway_request_latencies_bucket',
    labels: { ...series.labels, le: '+Inf' },
    value: series.count,
  });
  values.push({ metricName: 'gateway_request_latencies_sum', labels: series.labels, value: series.sum });
  values.push({ metricName: 'gateway_request_latencies_count', labels: series.labels, value: series.count });
  return values;
}
