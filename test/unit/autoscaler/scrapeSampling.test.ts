import { describe, expect, it } from 'vitest';
import { planScrape, populationMeanSampleSize, type ScrapePod } from '../../../autoscaler/collector/sampling.ts';

const pod = (name: string, startedAtMs: number): ScrapePod => ({ name, ip: '10.0.0.1', port: 9090, startedAtMs });
/** A generator that always answers the same, so shuffles are reproducible. */
const fixed = (value: number) => () => value;

describe('populationMeanSampleSize', () => {
  it('scrapes every pod of a small revision', () => {
    expect([0, 1, 2, 3].map(populationMeanSampleSize)).toEqual([0, 1, 2, 3]);
  });

  it('samples larger revisions as upstream does', () => {
    // n = ceil(N·X / (N + X − 1)), X = 1.96² · 100 / 5² = 15.3664
    expect(populationMeanSampleSize(4)).toBe(4);
    expect(populationMeanSampleSize(10)).toBe(7);
    expect(populationMeanSampleSize(100)).toBe(14);
    expect(populationMeanSampleSize(10_000)).toBe(16);
  });
});

describe('planScrape', () => {
  const now = 100_000;
  const window = 60_000;

  it('puts pods that have seen a whole stable window first, young ones as backups', () => {
    const pods = [pod('young-a', now - 1000), pod('old-a', 0), pod('young-b', now - 2000), pod('old-b', now - window)];
    const plan = planScrape(pods, now, window, fixed(0));
    expect(plan.sampleSize).toBe(4);
    expect(
      plan.order
        .slice(0, 2)
        .map((p) => p.name)
        .sort(),
    ).toEqual(['old-a', 'old-b']);
    expect(
      plan.order
        .slice(2)
        .map((p) => p.name)
        .sort(),
    ).toEqual(['young-a', 'young-b']);
  });

  it('shuffles the old pods when they can fill the sample, so each second samples different pods', () => {
    const pods = Array.from({ length: 20 }, (_, i) => pod(`old-${i}`, 0));
    const first = planScrape(pods, now, window, fixed(0)).order.map((p) => p.name);
    const second = planScrape(pods, now, window, fixed(0.999)).order.map((p) => p.name);
    expect(planScrape(pods, now, window, fixed(0)).sampleSize).toBe(9);
    expect(first).not.toEqual(second);
    expect([...first].sort()).toEqual([...second].sort());
  });

  it('leaves the input untouched', () => {
    const pods = [pod('a', 0), pod('b', 0), pod('c', 0), pod('d', 0)];
    planScrape(pods, now, window, fixed(0));
    expect(pods.map((p) => p.name)).toEqual(['a', 'b', 'c', 'd']);
  });
});
