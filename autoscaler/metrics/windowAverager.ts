// Sliding-window averages over one-second buckets, the way the KPA smooths metrics
// (upstream pkg/autoscaler/aggregation/bucketing.go).

export const BUCKET_MS = 1000;

export type AggregationAlgorithm = 'linear' | 'weighted-exponential';

export interface WindowAverager {
  /** Adds value to the bucket of atMs; values landing in the same second are summed. */
  record(atMs: number, value: number): void;
  /** The smoothed value as of nowMs; 0 when nothing was written within the window. */
  average(nowMs: number): number;
  /** True when the last write is more than a window older than nowMs. */
  isEmpty(nowMs: number): boolean;
  /** Changes the window length, keeping the newest buckets that still fit. */
  resize(windowMs: number, nowMs: number): void;
}

export function newWindowAverager(algorithm: AggregationAlgorithm, windowMs: number): WindowAverager {
  return algorithm === 'weighted-exponential'
    ? new WeightedExponentialAverager(windowMs)
    : new LinearAverager(windowMs);
}

const DIGITS = 1e6;
// Upstream rounds half away from zero; Math.round alone would round -x.5 towards +∞.
const roundTo6Digits = (x: number): number => (Math.sign(x) * Math.round(Math.abs(x) * DIGITS)) / DIGITS;

const bucketStart = (ms: number): number => Math.floor(ms / BUCKET_MS) * BUCKET_MS;
// Counting back from an early second can go below zero, where % would return a negative slot.
const ringIndex = (second: number, length: number): number => ((second % length) + length) % length;
const bucketCount = (windowMs: number): number => Math.ceil(windowMs / BUCKET_MS);

/**
 * A ring of per-second sums. Slot i holds second i modulo the ring length, so the ring
 * always covers the `length` seconds ending at the last write; seconds skipped between
 * writes are zeroed as the ring advances over them.
 */
abstract class BucketRing implements WindowAverager {
  protected windowMs: number;
  protected buckets: number[];
  /** Sum of every slot, including slots that have aged out but not been overwritten yet. */
  protected ringTotal = 0;
  /**
   * Start of the first second of the current run of data, which makes a young window
   * average over only the seconds it has seen. Unknown after a resize without recent data.
   */
  protected firstWriteMs: number | undefined;
  protected lastWriteMs: number | undefined;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.buckets = new Array<number>(bucketCount(windowMs)).fill(0);
  }

  abstract average(nowMs: number): number;

  protected slot(ms: number): number {
    return ringIndex(Math.floor(ms / BUCKET_MS), this.buckets.length);
  }

  isEmpty(nowMs: number): boolean {
    return this.lastWriteMs === undefined || bucketStart(nowMs) - this.lastWriteMs > this.windowMs;
  }

  record(atMs: number, value: number): void {
    const at = bucketStart(atMs);
    const last = this.lastWriteMs;
    if (at !== last) {
      // Too late to matter: the window has already moved past this second.
      if (last !== undefined && last - at >= this.windowMs) return;
      if (this.firstWriteMs === undefined || at < this.firstWriteMs) this.firstWriteMs = at;
      if (last === undefined || at > last) {
        if (last === undefined || at - last >= this.windowMs) {
          // A whole window of silence: what came before says nothing about now.
          this.buckets.fill(0);
          this.ringTotal = 0;
          this.firstWriteMs = at;
        } else {
          this.clearAfter(last, at);
        }
        this.lastWriteMs = at;
      }
    }
    this.buckets[this.slot(at)]! += value;
    this.ringTotal += value;
  }

  /** Zeroes the slots of the seconds in (fromMs, toMs], which still hold a previous lap's data. */
  private clearAfter(fromMs: number, toMs: number): void {
    for (let ms = fromMs + BUCKET_MS; ms <= toMs; ms += BUCKET_MS) {
      const i = this.slot(ms);
      this.ringTotal -= this.buckets[i]!;
      this.buckets[i] = 0;
    }
  }

  resize(windowMs: number, nowMs: number): void {
    if (windowMs === this.windowMs) return;
    const oldBuckets = this.buckets;
    const length = bucketCount(windowMs);
    const buckets = new Array<number>(length).fill(0);
    let total = 0;
    const last = this.lastWriteMs;
    if (last !== undefined && bucketStart(nowMs) - last <= this.windowMs) {
      const lastSecond = Math.floor(last / BUCKET_MS);
      for (let back = 0; back < Math.min(length, oldBuckets.length); back++) {
        const value = oldBuckets[ringIndex(lastSecond - back, oldBuckets.length)]!;
        buckets[ringIndex(lastSecond - back, length)] = value;
        total += value;
      }
      // The ring was full of (possibly zero) data for its whole old length.
      this.firstWriteMs = last - (oldBuckets.length - 1) * BUCKET_MS;
    } else {
      this.firstWriteMs = undefined;
    }
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.ringTotal = total;
  }
}

/**
 * Plain mean of the seconds in the window that carry data: a window younger than its
 * length averages over the seconds it has seen, and the seconds since the last write
 * shrink the window instead of counting as zeros. Gaps between writes count as zeros.
 */
export class LinearAverager extends BucketRing {
  average(nowMs: number): number {
    const last = this.lastWriteMs;
    if (last === undefined) return 0;
    const now = bucketStart(nowMs);
    const silentMs = now - last;
    if (silentMs >= this.windowMs) return 0;
    const seenSeconds = this.firstWriteMs === undefined ? Infinity : (last - this.firstWriteMs) / BUCKET_MS + 1;
    if (silentMs <= 0) {
      return roundTo6Digits(this.ringTotal / Math.min(seenSeconds, this.buckets.length));
    }
    // The slots after the last write belong to seconds that have left the window by now.
    let total = this.ringTotal;
    for (let ms = last + BUCKET_MS; ms <= now; ms += BUCKET_MS) total -= this.buckets[this.slot(ms)]!;
    const silentSeconds = silentMs / BUCKET_MS;
    return roundTo6Digits(total / Math.min(seenSeconds, this.buckets.length - silentSeconds));
  }
}

const MIN_SMOOTHING = 0.2;
const WEIGHT_COVERAGE = 0.9999;

/**
 * The decay per bucket such that the weights over the whole window sum to at least
 * WEIGHT_COVERAGE, but never slower than MIN_SMOOTHING, or long windows would degrade
 * into a plain mean.
 */
export function smoothingCoefficient(buckets: number): number {
  return Math.max(1 - (1 - WEIGHT_COVERAGE) ** (1 / buckets), MIN_SMOOTHING);
}

/**
 * Exponentially weighted sum: the newest second weighs α, each older one (1−α) times
 * less. Seconds since the last write count as zeros, so the value decays while idle.
 * The weights are not renormalised, as upstream does not.
 */
export class WeightedExponentialAverager extends BucketRing {
  private smoothing: number;

  constructor(windowMs: number) {
    super(windowMs);
    this.smoothing = smoothingCoefficient(this.buckets.length);
  }

  override resize(windowMs: number, nowMs: number): void {
    super.resize(windowMs, nowMs);
    this.smoothing = smoothingCoefficient(this.buckets.length);
  }

  average(nowMs: number): number {
    const last = this.lastWriteMs;
    if (last === undefined || this.isEmpty(nowMs)) return 0;
    const now = bucketStart(nowMs);
    const silentSeconds = Math.max(0, (now - last) / BUCKET_MS);
    let weight = this.smoothing * (1 - this.smoothing) ** silentSeconds;
    const lastSecond = Math.floor(last / BUCKET_MS);
    let sum = 0;
    for (let back = 0; back < this.buckets.length - silentSeconds; back++) {
      sum += this.buckets[ringIndex(lastSecond - back, this.buckets.length)]! * weight;
      weight *= 1 - this.smoothing;
    }
    return sum;
  }
}
