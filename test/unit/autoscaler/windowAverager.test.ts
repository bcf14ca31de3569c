import { describe, expect, it } from 'vitest';
import {
  LinearAverager,
  WeightedExponentialAverager,
  newWindowAverager,
  smoothingCoefficient,
} from '../../../autoscaler/metrics/windowAverager.ts';

const s = (seconds: number) => seconds * 1000;

function recordSeconds(averager: { record(at: number, v: number): void }, values: number[], fromSecond = 0) {
  for (const [i, value] of values.entries()) averager.record(s(fromSecond + i), value);
}

describe('LinearAverager', () => {
  it('is empty, and averages to 0, before any write', () => {
    const w = new LinearAverager(s(5));
    expect(w.isEmpty(s(3))).toBe(true);
    expect(w.average(s(3))).toBe(0);
  });

  it('sums values within one second into one bucket', () => {
    const w = new LinearAverager(s(5));
    w.record(1000, 2);
    w.record(1500, 3);
    // one bucket seen: 2+3 = 5
    expect(w.average(1999)).toBe(5);
    w.record(2000, 1);
    // (5 + 1) / 2 buckets = 3
    expect(w.average(2000)).toBe(3);
  });

  it('averages a young window over the seconds it has seen only', () => {
    const w = new LinearAverager(s(10));
    recordSeconds(w, [1, 2, 3, 4]);
    // (1+2+3+4) / 4, not / 10
    expect(w.average(s(3))).toBe(2.5);
  });

  it('counts a gap between writes as zeros', () => {
    const w = new LinearAverager(s(10));
    w.record(s(0), 4);
    w.record(s(3), 8);
    // seconds 0..3 = 4,0,0,8 → 12 / 4
    expect(w.average(s(3))).toBe(3);
  });

  it('drops the seconds since the last write from the window instead of counting zeros', () => {
    const w = new LinearAverager(s(5));
    recordSeconds(w, [1, 2, 3, 4, 5]);
    // full window 0..4: 15 / 5
    expect(w.average(s(4))).toBe(3);
    // at 6s the window is 2..6 and 5, 6 have no data yet: (3+4+5) / 3
    expect(w.average(s(6))).toBe(4);
    // a whole window after the last write: nothing
    expect(w.average(s(9))).toBe(0);
    // ...though it only counts as empty once more than a window has passed
    expect(w.isEmpty(s(9))).toBe(false);
    expect(w.isEmpty(s(10))).toBe(true);
  });

  it('zeroes the previous lap of the ring as time moves on, rounding to 6 digits', () => {
    const w = new LinearAverager(s(3));
    recordSeconds(w, [1, 2, 3]);
    w.record(s(4), 10);
    // window 2..4 = 3, 0, 10 → 13 / 3 = 4.333333…
    expect(w.average(s(4))).toBe(4.333333);
  });

  it('starts afresh after a whole window of silence', () => {
    const w = new LinearAverager(s(5));
    w.record(s(0), 100);
    w.record(s(10), 2);
    // the 100 is forgotten and the window is one second young
    expect(w.average(s(10))).toBe(2);
  });

  it('accepts late values within the window and ignores older ones', () => {
    const w = new LinearAverager(s(10));
    w.record(s(12), 4);
    w.record(s(10), 2); // late, still in the window: the window now starts at 10s
    w.record(s(2), 100); // 10s before the newest write: already outside the window
    // seconds 10..12 = 2, 0, 4 → 6 / 3
    expect(w.average(s(12))).toBe(2);
  });

  it('keeps the newest buckets when the window shrinks or grows', () => {
    const w = new LinearAverager(s(10));
    recordSeconds(w, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(w.average(s(9))).toBe(5.5); // 55 / 10
    w.resize(s(5), s(9));
    // keeps 6..10: 40 / 5
    expect(w.average(s(9))).toBe(8);
    w.resize(s(10), s(9));
    // only five buckets survived, and the window counts as that long: 40 / 5
    expect(w.average(s(9))).toBe(8);
  });

  it('forgets everything on resize after a window of silence', () => {
    const w = new LinearAverager(s(5));
    w.record(s(0), 7);
    // 8s after the last write is more than the old 5s window
    w.resize(s(10), s(8));
    w.record(s(9), 3);
    // the 7 is gone and the window starts at 9s: 3 / 1 (keeping it would give 10 / 10)
    expect(w.average(s(9))).toBe(3);
  });
});

describe('WeightedExponentialAverager', () => {
  it('derives the smoothing coefficient from the window, never below 0.2', () => {
    // 5 buckets: 1 − 0.0001^(1/5) = 1 − 10^−0.8 = 1 − 0.158489 = 0.841511
    expect(smoothingCoefficient(5)).toBeCloseTo(0.841511, 6);
    // 60 buckets: 1 − 10^(−4/60) = 0.1423 < 0.2, so 0.2
    expect(smoothingCoefficient(60)).toBe(0.2);
  });

  it('weighs the newest second most', () => {
    // α = 0.2 for 60s. Values newest last.
    const rising = new WeightedExponentialAverager(s(60));
    recordSeconds(rising, [10, 10, 5, 5]);
    // 5·0.2 + 5·0.2·0.8 + 10·0.2·0.8² + 10·0.2·0.8³ = 1 + 0.8 + 1.28 + 1.024 = 4.104
    expect(rising.average(s(3))).toBeCloseTo(4.104, 9);

    const falling = new WeightedExponentialAverager(s(60));
    recordSeconds(falling, [5, 5, 10, 10]);
    // 10·0.2 + 10·0.16 + 5·0.128 + 5·0.1024 = 2 + 1.6 + 0.64 + 0.512 = 4.752
    expect(falling.average(s(3))).toBeCloseTo(4.752, 9);
  });

  it('decays while idle, each silent second counting as a zero', () => {
    const w = new WeightedExponentialAverager(s(60));
    recordSeconds(w, [10, 10, 5, 5]);
    // two silent seconds multiply every weight by 0.8² = 0.64: 4.104 · 0.64
    expect(w.average(s(5))).toBeCloseTo(2.62656, 9);
    expect(w.average(s(64))).toBe(0); // more than a window after the last write
  });

  it('approaches the level of a steady load', () => {
    const w = new WeightedExponentialAverager(s(60));
    recordSeconds(w, new Array<number>(60).fill(10));
    // 10 · (1 − 0.8^60), 0.8^60 ≈ 1.5e−6
    expect(w.average(s(59))).toBeCloseTo(10, 4);
  });

  it('recomputes the coefficient on resize', () => {
    const w = newWindowAverager('weighted-exponential', s(5));
    w.record(0, 10);
    // α(5 buckets) = 0.841511 → 8.41511
    expect(w.average(0)).toBeCloseTo(8.41511, 5);
    w.resize(s(60), 0);
    // α = 0.2 → 2
    expect(w.average(0)).toBeCloseTo(2, 9);
  });
});
