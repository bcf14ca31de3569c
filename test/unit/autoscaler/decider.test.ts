// Metric streams replayed through RevisionMetrics into the decider on a FakeClock. Unless a
// test says otherwise: containerConcurrency 0 → target 70, total 100; stable window 60s,
// panic window 6s, panic threshold 2, max scale up 1000×, max scale down ÷2, burst capacity 211.
import { describe, expect, it } from 'vitest';
import { Decider } from '../../../autoscaler/scaling/decider.ts';
import { initialDeciderStatus } from '../../../autoscaler/scaling/revisionScaler.ts';
import { Replay, load, revisionSettings } from './replay.ts';

describe('decider: steady load', () => {
  it('keeps the pods that carry the load at target', () => {
    const r = new Replay(revisionSettings());
    r.stream(59, load(140));
    // 140 / 70 = 2 pods; 2 / 2 ready is under the panic threshold; burst: 2×100 − 211 − 140 = −151
    expect(r.tick(2)).toEqual({ desiredPods: 2, excessBurstCapacity: -151, panicking: false });
    for (let second = 61; second <= 119; second += 2) {
      r.stream(second, load(140));
      expect(r.tick(2).desiredPods).toBe(2);
    }
  });

  it('does not decide before there is data', () => {
    const r = new Replay(revisionSettings());
    expect(r.scaler.tick(0)).toEqual({ decided: false });
    expect(r.scaler.status.desiredScale).toBe(-1);
  });
});

describe('decider: panic mode', () => {
  it('panics on a step up, holds the peak for a stable window, then follows the stable window', () => {
    const r = new Replay(revisionSettings(), 1);
    r.stream(59, load(70));
    expect(r.tick(1)).toEqual({ desiredPods: 1, excessBurstCapacity: -181, panicking: false }); // 100 − 211 − 70

    r.stream(61, load(350));
    // stable at 61s covers 2..61: (58×70 + 2×350) / 60 = 79.333333 → ceil(/70) = 2
    // panic covers 56..61: (4×70 + 2×350) / 6 = 163.333333 → ceil(/70) = 3; 3 / 1 ready ≥ 2 → panic
    // burst: floor(100 − 211 − 163.333333) = −275
    expect(r.tick(1)).toEqual({ desiredPods: 3, excessBurstCapacity: -275, panicking: true });

    // Load is back to 70 and 3 pods are up: the stable window wants 2 at most, the panic window
    // at most 163.33 / 70 → 3 (3 / 3 < 2, so no new panic) — but panic never scales down.
    for (let second = 63; second <= 121; second += 2) {
      r.stream(second, load(70));
      expect(r.tick(3)).toMatchObject({ desiredPods: 3, panicking: true });
    }
    // 123s is past 61s + 60s: panic ends; the stable window (64..123) is all 70 → 1 pod,
    // which ÷2 from 3 ready allows (floor(3/2) = 1); burst 300 − 211 − 70 = 19
    r.stream(123, load(70));
    expect(r.tick(3)).toEqual({ desiredPods: 1, excessBurstCapacity: 19, panicking: false });
  });

  it('extends the panic while the panic window stays over the threshold', () => {
    const spec = revisionSettings();
    const d = new Decider(spec, { nowMs: 0, readyPods: 1 });
    // 140 / 70 = 2 pods on 1 ready: 2 ≥ 2 → panic from 0s
    expect(d.decide({ nowMs: 0, readyPods: 1, observed: { stable: 70, panic: 140 } }).desiredPods).toBe(2);
    // 280 / 70 = 4 on 2 ready: 2 ≥ 2 → panic now runs from 40s
    expect(d.decide({ nowMs: 40_000, readyPods: 2, observed: { stable: 70, panic: 280 } }).desiredPods).toBe(4);
    // quiet, but within 40s + 60s: hold 4
    expect(d.decide({ nowMs: 62_000, readyPods: 4, observed: { stable: 70, panic: 70 } })).toMatchObject({
      desiredPods: 4,
      panicking: true,
    });
    expect(d.decide({ nowMs: 100_000, readyPods: 4, observed: { stable: 70, panic: 70 } })).toMatchObject({
      desiredPods: 4,
      panicking: true,
    });
    // past 100s: stable wants 1, but ÷2 from 4 ready allows no lower than 2
    expect(d.decide({ nowMs: 102_000, readyPods: 4, observed: { stable: 70, panic: 70 } })).toMatchObject({
      desiredPods: 2,
      panicking: false,
    });
    // a later, smaller burst starts from scratch: 140 / 70 = 2 on 1 ready, not the old peak of 4
    expect(d.decide({ nowMs: 110_000, readyPods: 1, observed: { stable: 70, panic: 140 } })).toMatchObject({
      desiredPods: 2,
      panicking: true,
    });
  });

  it('starts in panic when created with more than one ready pod, keeping them a stable window', () => {
    const r = new Replay(revisionSettings(), 3);
    r.stream(1, load(0));
    // no load, but a restarted autoscaler keeps the 3 ready pods
    expect(r.tick(3)).toMatchObject({ desiredPods: 3, panicking: true });
    r.stream(59, load(0));
    expect(r.tick(3)).toMatchObject({ desiredPods: 3, panicking: true });
    // 61s > 0s + 60s: panic over; 0 load, limited to floor(3/2) = 1
    r.stream(61, load(0));
    expect(r.tick(3)).toMatchObject({ desiredPods: 1, panicking: false });
  });
});

describe('decider: rate limits', () => {
  it('scales down at most by max-scale-down-rate per decision', () => {
    const r = new Replay(revisionSettings());
    r.stream(59, load(700));
    expect(r.tick(10).desiredPods).toBe(10); // 700 / 70
    r.stream(119, load(0)); // a full stable window of no load
    expect(r.tick(10).desiredPods).toBe(5); // floor(10 / 2)
    r.stream(121, load(0));
    expect(r.tick(5).desiredPods).toBe(2); // floor(5 / 2)
    r.stream(123, load(0));
    expect(r.tick(2).desiredPods).toBe(1); // floor(2 / 2)
    r.stream(125, load(0));
    expect(r.tick(1).desiredPods).toBe(0); // floor(1 / 2)
  });

  it('lets an unreachable revision drop to zero at once', () => {
    const d = new Decider(revisionSettings({ reachable: false }), { nowMs: 0, readyPods: 0 });
    // a reachable one would stop at floor(10 / 2) = 5
    expect(d.decide({ nowMs: 0, readyPods: 10, observed: { stable: 0, panic: 0 } }).desiredPods).toBe(0);
  });

  it('reads max-scale-down-rate from the ConfigMap', () => {
    const r = new Replay(revisionSettings({ config: { 'max-scale-down-rate': '4' } }));
    r.stream(59, load(0));
    expect(r.tick(10).desiredPods).toBe(2); // floor(10 / 4)
  });

  it('scales up at most by max-scale-up-rate per decision, rounding up', () => {
    const r = new Replay(revisionSettings({ config: { 'max-scale-up-rate': '2' } }));
    r.stream(5, load(700)); // wants 700 / 70 = 10
    expect(r.tick(0).desiredPods).toBe(2); // ceil(2 × max(1, 0 ready))
    r.stream(7, load(700));
    expect(r.tick(2).desiredPods).toBe(4);
    r.stream(9, load(700));
    expect(r.tick(4).desiredPods).toBe(8);
    r.stream(11, load(700));
    expect(r.tick(8).desiredPods).toBe(10); // min(10, 16)
  });
});

describe('decider: scale-down-delay', () => {
  // max-scale-down-rate 100 takes the rate limit out of the picture: floor(4 / 100) = 0.
  const observe = (d: Decider, second: number, load: number) =>
    d.decide({ nowMs: second * 1000, readyPods: 4, observed: { stable: load, panic: load } }).desiredPods;
  const loads: [number, number][] = [
    [2, 280],
    [4, 0],
    [6, 140],
    [8, 0],
    [10, 0],
    [12, 0],
    [14, 0],
    [16, 0],
  ];

  it('keeps the largest decision of the last scale-down-delay', () => {
    const spec = revisionSettings({
      config: { 'max-scale-down-rate': '100' },
      annotations: { 'scale-down-delay': '10s' },
    });
    const d = new Decider(spec, { nowMs: 0, readyPods: 0 });
    // raw decisions 4, 0, 2, 0…; the 4 of 2s holds while it is less than 10s old (until 10s),
    // then the 2 of 6s holds until 14s
    expect(loads.map(([s, l]) => observe(d, s, l))).toEqual([4, 4, 4, 4, 4, 2, 2, 0]);
  });

  it('applies decisions at once without a delay, or for an unreachable revision', () => {
    const immediate = new Decider(revisionSettings({ config: { 'max-scale-down-rate': '100' } }), {
      nowMs: 0,
      readyPods: 0,
    });
    expect(loads.map(([s, l]) => observe(immediate, s, l))).toEqual([4, 0, 2, 0, 0, 0, 0, 0]);
    const unreachable = revisionSettings({
      config: { 'max-scale-down-rate': '100' },
      annotations: { 'scale-down-delay': '10s' },
      reachable: false,
    });
    const d = new Decider(unreachable, { nowMs: 0, readyPods: 0 });
    expect(loads.map(([s, l]) => observe(d, s, l))).toEqual([4, 0, 2, 0, 0, 0, 0, 0]);
  });

  it('starts a new delay window when the delay changes', () => {
    const spec = revisionSettings({
      config: { 'max-scale-down-rate': '100' },
      annotations: { 'scale-down-delay': '10s' },
    });
    const d = new Decider(spec, { nowMs: 0, readyPods: 0 });
    expect(observe(d, 2, 280)).toBe(4);
    d.update({ ...spec, scaleDownDelayMs: 0 });
    expect(observe(d, 4, 0)).toBe(0);
  });
});

describe('decider: rps metric', () => {
  it('scales on requests per second net of proxied requests, against 200 × 0.7 = 140', () => {
    const r = new Replay(revisionSettings({ annotations: { metric: 'rps' } }));
    r.stream(59, {
      averageConcurrentRequests: 1000,
      averageProxiedConcurrentRequests: 0,
      requestCount: 500,
      proxiedRequestCount: 80,
    });
    // 500 − 80 = 420 rps → 420 / 140 = 3 (concurrency 1000 would have asked for 15);
    // burst: 3 × 200 − 211 − 420 = −31
    expect(r.tick(3)).toEqual({ desiredPods: 3, excessBurstCapacity: -31, panicking: false });
  });
});

describe('decider: weighted-exponential aggregation', () => {
  it('reacts to a fresh burst sooner than the linear average', () => {
    const burst = (r: Replay) => r.stream(57, load(0)).stream(59, load(350));
    // linear: stable 700 / 60 = 11.67 → 1 pod; panic 700 / 6 = 116.67 → 2 pods (2 / 1 ≥ 2: panic) → 2
    expect(burst(new Replay(revisionSettings())).tick(1).desiredPods).toBe(2);
    // weighted: stable α = 0.2: 350·0.2 + 350·0.16 = 126 → 2 pods;
    // panic α = 1 − 10^(−4/6) = 0.784557: 350·α·(2 − α) = 333.75 → 5 pods → 5
    const weighted = new Replay(
      revisionSettings({ annotations: { 'metric-aggregation-algorithm': 'weighted-exponential' } }),
    );
    expect(burst(weighted).tick(1).desiredPods).toBe(5);
  });
});

describe('decider: activation-scale', () => {
  it('raises any non-zero decision to activation-scale but still allows zero', () => {
    const r = new Replay(revisionSettings({ annotations: { 'activation-scale': '3' } }));
    r.stream(9, load(7));
    expect(r.tick(1).desiredPods).toBe(3); // ceil(7 / 70) = 1 → 3
    r.stream(79, load(0));
    expect(r.tick(1).desiredPods).toBe(0); // floor(1 / 2) = 0 allowed
  });
});

describe('decider: excess burst capacity', () => {
  const decide = (annotations: Record<string, string>, readyPods: number, panic: number, containerConcurrency = 0) =>
    new Decider(revisionSettings({ annotations, containerConcurrency }), { nowMs: 0, readyPods: 0 }).decide({
      nowMs: 0,
      readyPods,
      observed: { stable: panic, panic },
    }).excessBurstCapacity;

  it('is the ready capacity less the burst capacity and the panic-window load', () => {
    expect(decide({}, 3, 50)).toBe(39); // floor(3 × 100 − 211 − 50)
    expect(decide({}, 2, 50)).toBe(-61); // floor(2 × 100 − 211 − 50)
    expect(decide({ 'target-burst-capacity': '100' }, 12, 15.5, 10)).toBe(4); // floor(12 × 10 − 100 − 15.5)
  });

  it('is 0 with target-burst-capacity 0 and −1 with −1, whatever the load', () => {
    expect(decide({ 'target-burst-capacity': '0' }, 0, 500)).toBe(0);
    expect(decide({ 'target-burst-capacity': '-1' }, 10, 0)).toBe(-1);
  });

  it('starts from the initial scale before the first decision', () => {
    expect(initialDeciderStatus(revisionSettings())).toEqual({ desiredScale: -1, excessBurstCapacity: -111 }); // 1 × 100 − 211
    expect(initialDeciderStatus(revisionSettings({ annotations: { 'initial-scale': '3' } })).excessBurstCapacity).toBe(
      89,
    ); // 300 − 211
    expect(
      initialDeciderStatus(revisionSettings({ annotations: { 'target-burst-capacity': '0' } })).excessBurstCapacity,
    ).toBe(0);
    expect(
      initialDeciderStatus(revisionSettings({ annotations: { 'target-burst-capacity': '-1' } })).excessBurstCapacity,
    ).toBe(-1);
  });

  it('reports a status change on a new desired scale or a burst capacity changing sign only', () => {
    const r = new Replay(revisionSettings());
    r.stream(59, load(50));
    // from (−1, −111) to (1, 39): desired changed
    expect(r.scaler.tick(3)).toMatchObject({ changed: true, status: { desiredScale: 1, excessBurstCapacity: 39 } });
    expect(r.scaler.tick(3)).toMatchObject({ changed: false });
    // 2 ready: still 1 pod (ceil(50/70), floor(2/2)), burst 200 − 211 − 50 = −61: sign flipped
    expect(r.scaler.tick(2)).toMatchObject({ changed: true, status: { desiredScale: 1, excessBurstCapacity: -61 } });
    r.stream(119, load(40));
    // burst 200 − 211 − 40 = −51: same sign, same desired
    expect(r.scaler.tick(2)).toMatchObject({ changed: false, status: { desiredScale: 1, excessBurstCapacity: -51 } });
  });
});

describe('decider: wouldScaleUp', () => {
  it('tells whether a decision now would rise above the last one, without changing the decider', () => {
    const spec = revisionSettings();
    const d = new Decider(spec, { nowMs: 0, readyPods: 1 });
    expect(d.decide({ nowMs: 0, readyPods: 1, observed: { stable: 70, panic: 70 } }).desiredPods).toBe(1);
    // The stable window alone asks for 2 pods (ceil(71/70)); the panic window is under the threshold.
    expect(d.wouldScaleUp({ nowMs: 1000, readyPods: 1, observed: { stable: 71, panic: 71 } }, 1)).toBe(true);
    // Would panic (140 / 70 = 2 on 1 ready) — but asking did not start a panic.
    expect(d.wouldScaleUp({ nowMs: 1000, readyPods: 1, observed: { stable: 70, panic: 140 } }, 1)).toBe(true);
    expect(d.panicking).toBe(false);
    expect(d.wouldScaleUp({ nowMs: 1000, readyPods: 1, observed: { stable: 70, panic: 70 } }, 1)).toBe(false);
    expect(d.wouldScaleUp({ nowMs: 1000, readyPods: 1, observed: { stable: 10, panic: 10 } }, 1)).toBe(false);
  });

  it('counts a panic that holds its peak as no rise', () => {
    const d = new Decider(revisionSettings(), { nowMs: 0, readyPods: 1 });
    expect(d.decide({ nowMs: 0, readyPods: 1, observed: { stable: 70, panic: 280 } })).toMatchObject({
      desiredPods: 4,
      panicking: true,
    });
    expect(d.wouldScaleUp({ nowMs: 2000, readyPods: 4, observed: { stable: 70, panic: 140 } }, 4)).toBe(false);
    expect(d.wouldScaleUp({ nowMs: 2000, readyPods: 4, observed: { stable: 70, panic: 350 } }, 4)).toBe(true);
  });
});
