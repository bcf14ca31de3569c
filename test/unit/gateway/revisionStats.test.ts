import { describe, expect, it } from 'vitest';
import { bucketsFor, RevisionStats, RevisionWindow, revisionStatsAnswer } from '../../../gateway/revisionStats.ts';
import { LATENCY_SLOTS, latencySlot, mergeFigures, noFigures, quantileMs } from '../../../lib/stats/revisionFigures.ts';

const SHAPE = { bucketMs: 1000, buckets: 10 };

describe('bucketsFor', () => {
  it('covers the window in whole buckets, at least one and at most the ring', () => {
    expect(bucketsFor(1, SHAPE)).toBe(1);
    expect(bucketsFor(1000, SHAPE)).toBe(1);
    expect(bucketsFor(1001, SHAPE)).toBe(2);
    expect(bucketsFor(5000, SHAPE)).toBe(5);
    expect(bucketsFor(60_000, SHAPE)).toBe(10);
  });
});

describe('RevisionWindow', () => {
  it('sums the buckets of the last window only', () => {
    const window = new RevisionWindow(SHAPE);
    // One request per second from t=0 to t=9.5 s; every third one a 503.
    for (let t = 0; t < 10; t++) window.record(t * 1000 + 500, t % 3 === 0 ? 503 : 200, 7);
    const now = 9_900;
    expect(window.sum(now, 1000)).toMatchObject({ requests: 1, errors: 1 }); // t=9
    expect(window.sum(now, 3000)).toMatchObject({ requests: 3, errors: 1 }); // t=7,8,9
    expect(window.sum(now, 10_000)).toMatchObject({ requests: 10, errors: 4 });
    expect(window.sum(now, 10_000).latency[latencySlot(7)]).toBe(10);
  });

  it('forgets a bucket when time comes round to its slot again, and leaves out buckets from the future', () => {
    const window = new RevisionWindow(SHAPE);
    window.record(500, 500, 1);
    window.record(1500, 200, 1);
    // 10 s later slot 0 is reused: the 500 at t=0.5 s is gone.
    window.record(10_500, 200, 1);
    expect(window.sum(10_600, 60_000)).toMatchObject({ requests: 2, errors: 0 });
    // A clock stepped back sees nothing newer than itself.
    expect(window.sum(1_600, 60_000)).toMatchObject({ requests: 1 });
  });

  it('drops buckets older than the window even when their slot was not reused', () => {
    const window = new RevisionWindow(SHAPE);
    window.record(0, 200, 1);
    expect(window.sum(5_000, 3_000).requests).toBe(0);
    expect(window.sum(5_000, 6_000).requests).toBe(1);
  });
});

describe('quantileMs', () => {
  const histogram = (entries: Array<[latencyMs: number, count: number]>) => {
    const latency = new Array(LATENCY_SLOTS).fill(0);
    for (const [ms, n] of entries) latency[latencySlot(ms)] += n;
    return latency;
  };

  it('interpolates inside the bucket that holds the rank', () => {
    // 99 requests at ≤5 ms, 1 in (100, 150]: the p99 is the top of the first bucket.
    expect(
      quantileMs(
        histogram([
          [3, 99],
          [120, 1],
        ]),
        0.99,
      ),
    ).toBe(5);
    // 100 requests in (200, 250]: the p99 lies 99% of the way through it.
    expect(quantileMs(histogram([[220, 100]]), 0.99)).toBeCloseTo(249.5);
    expect(
      quantileMs(
        histogram([
          [3, 50],
          [120, 50],
        ]),
        0.99,
      ),
    ).toBeCloseTo(149);
  });

  it('is 0 for no requests and the top bound above every bound', () => {
    expect(quantileMs(noFigures().latency, 0.99)).toBe(0);
    expect(quantileMs(histogram([[500_000, 3]]), 0.99)).toBe(100_000);
  });

  it('of merged figures is that of all the requests', () => {
    const a = { requests: 99, errors: 1, latency: histogram([[3, 99]]) };
    const b = { requests: 1, errors: 1, latency: histogram([[700, 1]]) };
    const merged = mergeFigures(a, b);
    expect(merged).toMatchObject({ requests: 100, errors: 2 });
    expect(quantileMs(merged.latency, 0.99)).toBe(5);
    expect(quantileMs(merged.latency, 1)).toBe(700);
  });
});

describe('RevisionStats', () => {
  it('reports the revisions with requests in the window, by namespace', () => {
    let now = 100_000;
    const stats = new RevisionStats({ now: () => now, setTimeout: () => ({ cancel() {} }) }, SHAPE);
    const one = stats.recorder('a', 'one-00001');
    const same = stats.recorder('a', 'one-00001');
    const other = stats.recorder('b', 'two-00001');
    one(200, 3);
    same(502, 3);
    other(200, 3);
    now += 5_000;
    other(200, 3);
    expect(stats.report(2_000)).toMatchObject({ windowMs: 2_000, revisions: [{ namespace: 'b', requests: 1 }] });
    const all = stats.report(10_000, 'a');
    expect(all.revisions).toEqual([
      expect.objectContaining({ namespace: 'a', revision: 'one-00001', requests: 2, errors: 1, p99Ms: 5 }),
    ]);
  });

  it('answers a bad window with an error naming it', () => {
    const stats = new RevisionStats({ now: () => 0, setTimeout: () => ({ cancel() {} }) }, SHAPE);
    expect(revisionStatsAnswer(stats, new URLSearchParams('window=soon'))).toEqual(
      new Error('window: soon is not a positive duration such as 30s or 5m'),
    );
    expect(revisionStatsAnswer(stats, new URLSearchParams('window=3s'))).toMatchObject({ windowMs: 3000 });
  });
});
