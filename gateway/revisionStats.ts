// Live per-revision figures for the canary analysis: a ring of fixed time buckets per revision
// holding requests, 5xx answers and a latency histogram, summed over the last N seconds on
// demand (GET /revisions/stats on the admin port). Recording a request is a few array writes:
// the ring is allocated when a revision is first seen, and a bucket is reused (zeroed) when
// time comes round to it again.
import type { Clock } from '../lib/clock.ts';
import { parseGoDuration } from '../lib/config/duration.ts';
import {
  LATENCY_BUCKETS_MS,
  LATENCY_SLOTS,
  latencySlot,
  noFigures,
  quantileMs,
  type RevisionFigures,
  type RevisionStatsReport,
} from '../lib/stats/revisionFigures.ts';

export interface WindowShape {
  /** Length of one bucket. */
  bucketMs: number;
  /** Buckets in the ring: bucketMs × buckets is the longest window that can be asked for. */
  buckets: number;
}

/**
 * How many buckets, counting the one `now` falls in, cover the last windowMs: whole buckets,
 * at least one, at most the ring.
 */
export function bucketsFor(windowMs: number, shape: WindowShape): number {
  return Math.min(shape.buckets, Math.max(1, Math.ceil(windowMs / shape.bucketMs)));
}

export class RevisionWindow {
  readonly #shape: WindowShape;
  /** Which bucket (time / bucketMs) each slot of the ring holds; -1 before first use. */
  readonly #epochs: Float64Array;
  readonly #requests: Uint32Array;
  readonly #errors: Uint32Array;
  /** LATENCY_SLOTS counts per ring slot, slot after slot. */
  readonly #latency: Uint32Array;

  constructor(shape: WindowShape) {
    this.#shape = shape;
    this.#epochs = new Float64Array(shape.buckets).fill(-1);
    this.#requests = new Uint32Array(shape.buckets);
    this.#errors = new Uint32Array(shape.buckets);
    this.#latency = new Uint32Array(shape.buckets * LATENCY_SLOTS);
  }

  record(nowMs: number, status: number, latencyMs: number): void {
    const epoch = Math.floor(nowMs / this.#shape.bucketMs);
    const slot = epoch % this.#shape.buckets;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#requests[slot] = 0;
      this.#errors[slot] = 0;
      this.#latency.fill(0, slot * LATENCY_SLOTS, (slot + 1) * LATENCY_SLOTS);
    }
    this.#requests[slot]!++;
    if (status >= 500) this.#errors[slot]!++;
    this.#latency[slot * LATENCY_SLOTS + latencySlot(latencyMs)]!++;
  }

  /** The figures of the buckets that cover the last windowMs up to nowMs. */
  sum(nowMs: number, windowMs: number): RevisionFigures {
    const current = Math.floor(nowMs / this.#shape.bucketMs);
    const oldest = current - bucketsFor(windowMs, this.#shape) + 1;
    const figures = noFigures();
    for (let slot = 0; slot < this.#shape.buckets; slot++) {
      const epoch = this.#epochs[slot]!;
      if (epoch < oldest || epoch > current) continue;
      figures.requests += this.#requests[slot]!;
      figures.errors += this.#errors[slot]!;
      for (let i = 0; i < LATENCY_SLOTS; i++) figures.latency[i]! += this.#latency[slot * LATENCY_SLOTS + i]!;
    }
    return figures;
  }
}

/** Every revision's window, by namespace and revision name. */
export class RevisionStats {
  readonly #clock: Clock;
  readonly #shape: WindowShape;
  readonly #windows = new Map<string, { namespace: string; revision: string; window: RevisionWindow }>();

  constructor(clock: Clock, shape: WindowShape) {
    this.#clock = clock;
    this.#shape = shape;
  }

  /** The recorder of one revision, made once per revision and held by its metric series. */
  recorder(namespace: string, revision: string): (status: number, latencyMs: number) => void {
    const key = `${namespace}/${revision}`;
    let entry = this.#windows.get(key);
    if (entry === undefined) {
      entry = { namespace, revision, window: new RevisionWindow(this.#shape) };
      this.#windows.set(key, entry);
    }
    const { window } = entry;
    return (status, latencyMs) => window.record(this.#clock.now(), status, latencyMs);
  }

  /** The last windowMs of every revision (of one namespace, when given) that had requests in it. */
  report(windowMs: number, namespace?: string): RevisionStatsReport {
    const now = this.#clock.now();
    const revisions = [];
    for (const entry of this.#windows.values()) {
      if (namespace !== undefined && entry.namespace !== namespace) continue;
      const figures = entry.window.sum(now, windowMs);
      if (figures.requests === 0) continue;
      revisions.push({
        namespace: entry.namespace,
        revision: entry.revision,
        ...figures,
        p99Ms: Math.round(quantileMs(figures.latency, 0.99) * 10) / 10,
      });
    }
    return {
      windowMs: bucketsFor(windowMs, this.#shape) * this.#shape.bucketMs,
      latencyBucketsMs: LATENCY_BUCKETS_MS,
      revisions,
    };
  }
}

/** GET /revisions/stats?window=30s[&namespace=NS]: the report, or an Error naming the bad parameter. */
export function revisionStatsAnswer(stats: RevisionStats, query: URLSearchParams): RevisionStatsReport | Error {
  const window = query.get('window') ?? '60s';
  const windowMs = parseGoDuration(window);
  if (windowMs === undefined || windowMs <= 0)
    return new Error(`window: ${window} is not a positive duration such as 30s or 5m`);
  return stats.report(windowMs, query.get('namespace') ?? undefined);
}
