// A revision's request figures over a time window, as the gateway reports them on its admin port
// (GET /revisions/stats) and the canary analysis reads them: requests, 5xx answers and a latency
// histogram on Knative's request-latency buckets. Histograms add up, so figures from several
// gateway replicas merge exactly and the p99 is taken from the merged one.
import { z } from 'zod';

/** Knative's request-latency bucket bounds, in milliseconds (the activator's and the gateway's). */
export const LATENCY_BUCKETS_MS = [
  5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000, 10000,
  20000, 50000, 100000,
] as const;

/** Slots in a latency histogram: one per bound, and one above them all. */
export const LATENCY_SLOTS = LATENCY_BUCKETS_MS.length + 1;

/** The slot of a latency: the first bound it does not exceed. */
export function latencySlot(latencyMs: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (latencyMs <= LATENCY_BUCKETS_MS[i]!) return i;
  return LATENCY_BUCKETS_MS.length;
}

export interface RevisionFigures {
  requests: number;
  /** Answers with a 5xx status. */
  errors: number;
  /** Requests per latency slot (not cumulative), LATENCY_SLOTS long. */
  latency: number[];
}

export const noFigures = (): RevisionFigures => ({ requests: 0, errors: 0, latency: new Array(LATENCY_SLOTS).fill(0) });

export function mergeFigures(a: RevisionFigures, b: RevisionFigures): RevisionFigures {
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    latency: a.latency.map((n, i) => n + (b.latency[i] ?? 0)),
  };
}

/**
 * The q-quantile of a histogram in milliseconds, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; the top bound when it lies above every bound, 0 when empty.
 */
export function quantileMs(latency: readonly number[], q: number): number {
  const total = latency.reduce((sum, n) => sum + n, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
    const inBucket = latency[i] ?? 0;
    if (below + inBucket >= rank && inBucket > 0) {
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const upper = LATENCY_BUCKETS_MS[i]!;
      return lower + ((upper - lower) * (rank - below)) / inBucket;
    }
    below += inBucket;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}

/** One revision's entry in the report; p99Ms is for people, the histogram for merging. */
export interface RevisionStatsEntry extends RevisionFigures {
  namespace: string;
  revision: string;
  p99Ms: number;
}

export interface RevisionStatsReport {
  /** The span the figures cover: the window asked for, rounded up to whole buckets, at most the retention. */
  windowMs: number;
  latencyBucketsMs: readonly number[];
  revisions: RevisionStatsEntry[];
}

const count = z.number().int().nonnegative();
export const revisionStatsReportSchema = z.object({
  windowMs: count,
  revisions: z.array(
    z.object({
      namespace: z.string(),
      revision: z.string(),
      requests: count,
      errors: count,
      latency: z.array(count).length(LATENCY_SLOTS),
    }),
  ),
});
