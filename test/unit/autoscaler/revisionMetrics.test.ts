import { describe, expect, it } from 'vitest';
import { RevisionMetrics } from '../../../autoscaler/metrics/revisionMetrics.ts';
import { load } from './replay.ts';

const spec = { stableWindowMs: 60_000, panicWindowMs: 6000, aggregation: 'linear' as const, scraped: true };

describe('RevisionMetrics', () => {
  it('subtracts what the activator already reported', () => {
    const m = new RevisionMetrics(spec);
    m.record(0, {
      averageConcurrentRequests: 5,
      averageProxiedConcurrentRequests: 2,
      requestCount: 10,
      proxiedRequestCount: 4,
    });
    expect(m.observe('concurrency', 0)).toEqual({ stable: 3, panic: 3 }); // 5 − 2
    expect(m.observe('rps', 0)).toEqual({ stable: 6, panic: 6 }); // 10 − 4
  });

  it('adds up the scraper and activator stats of one second', () => {
    const m = new RevisionMetrics(spec);
    m.record(1000, load(4));
    m.record(1500, load(1));
    expect(m.observe('concurrency', 1500)).toEqual({ stable: 5, panic: 5 });
  });

  it('sees a burst sooner in the panic window than in the stable window', () => {
    const m = new RevisionMetrics(spec);
    for (let s = 0; s <= 5; s++) m.record(s * 1000, load(0));
    for (let s = 6; s <= 9; s++) m.record(s * 1000, load(12));
    // stable: 10 seconds seen, 4 × 12 / 10 = 4.8; panic: seconds 4..9 = 0,0,12,12,12,12 → 48 / 6 = 8
    expect(m.observe('concurrency', 9000)).toEqual({ stable: 4.8, panic: 8 });
  });

  it('has no data for a scraped revision with nothing recorded in the stable window', () => {
    const m = new RevisionMetrics(spec);
    expect(m.observe('concurrency', 0)).toBeUndefined();
    m.record(0, load(3));
    // 61s after the write is more than the 60s window
    expect(m.observe('concurrency', 61_000)).toBeUndefined();
  });

  it('reads silence as no load when only the activator reports (target-burst-capacity −1)', () => {
    const m = new RevisionMetrics({ ...spec, scraped: false });
    expect(m.observe('concurrency', 0)).toEqual({ stable: 0, panic: 0 });
  });

  it('resizes its windows on update', () => {
    const m = new RevisionMetrics(spec);
    for (let s = 0; s <= 9; s++) m.record(s * 1000, load(s));
    // stable shrinks to the 6 newest seconds 4..9 = 39 / 6 = 6.5; panic shrinks to 2s: (8 + 9) / 2 = 8.5
    m.update({ stableWindowMs: 6000, panicWindowMs: 2000, scraped: true }, 9000);
    expect(m.observe('concurrency', 9000)).toEqual({ stable: 6.5, panic: 8.5 });
  });
});
