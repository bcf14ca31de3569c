// The first request to a revision at zero: the activator's stat is recorded, the poke decides
// at once (the clock does not move), and the plan patches the scale target to one pod while
// the activator stays in the path. Defaults: target 70, total 100, burst capacity 211.
import { describe, expect, it } from 'vitest';
import { computeActiveCondition, chooseSksMode } from '../../../autoscaler/kpa/paStatus.ts';
import { planScale } from '../../../autoscaler/kpa/scalePlan.ts';
import { Replay, decided, load, revisionSettings, type RevisionOptions } from './replay.ts';

const firstRequest = load(1, 1);

function idleAtZero(options: RevisionOptions = {}): Replay {
  const r = new Replay(revisionSettings(options));
  r.stream(9, load(0));
  expect(r.tick(1).desiredPods).toBe(0); // no load; floor(1 / 2) = 0 allowed
  return r;
}

describe('scale from zero', () => {
  it('wants one pod on the first request, without waiting for a tick', () => {
    const r = idleAtZero();
    r.moveTo(10);
    r.metrics.record(r.clock.now(), firstRequest);
    const result = r.scaler.poke(firstRequest, 0);
    // stable: 1 over seconds 0..10 = 0.090909 → ceil(/70) = 1; panic: 1 / 6 = 0.166667 → 1, and
    // 1 / max(1, 0 ready) < 2, no panic; burst: floor(0 × 100 − 211 − 0.166667) = −212
    expect(result).toMatchObject({
      decided: true,
      changed: true,
      status: { desiredScale: 1, excessBurstCapacity: -212 },
    });
    expect(r.clock.now()).toBe(10_000);

    const settings = r.settings;
    const plan = planScale({
      nowMs: r.clock.now(),
      desiredScale: r.scaler.status.desiredScale,
      pa: { active: 'inactive', activeSinceMs: 0, scaleTargetInitialized: true },
      settings,
      config: { enableScaleToZero: true, scaleToZeroGracePeriodMs: 30_000 },
      progressDeadlineMs: 600_000,
      sks: { mode: 'Proxy', proxyingSinceMs: 0 },
      activatorInPath: true,
      currentReplicas: 0,
    });
    expect(plan).toEqual({ want: 1, patchReplicas: 1 });
    // the activator holds the request until the pod is ready
    expect(chooseSksMode(plan.want, r.scaler.status.excessBurstCapacity)).toBe('Proxy');
    const active = computeActiveCondition({
      want: plan.want,
      readyPods: 0,
      settings,
      pa: { active: 'inactive', scaleTargetInitialized: true, hasServiceName: true },
    }).active;
    expect(active).toMatchObject({ state: 'activating', reason: 'Queued' });
  });

  it('wakes up after a long silence just the same', () => {
    const r = idleAtZero();
    r.moveTo(300);
    r.metrics.record(r.clock.now(), firstRequest);
    // the windows start afresh: stable 1 / 1 second → ceil(1 / 70) = 1
    expect(decided(r.scaler.poke(firstRequest, 0)).desiredPods).toBe(1);
  });

  it('comes back at activation-scale', () => {
    const r = idleAtZero({ annotations: { 'activation-scale': '2' } });
    r.moveTo(10);
    r.metrics.record(r.clock.now(), firstRequest);
    expect(decided(r.scaler.poke(firstRequest, 0)).desiredPods).toBe(2); // max(1, 2)
  });

  it('leaves other stats to the regular tick', () => {
    const r = idleAtZero();
    expect(r.scaler.poke(load(0, 3), 0)).toBeUndefined(); // no concurrency
    const busy = new Replay(revisionSettings());
    expect(busy.scaler.poke(firstRequest, 0)).toBeUndefined(); // desired still unknown (−1)
    busy.stream(9, load(70));
    expect(busy.tick(1).desiredPods).toBe(1);
    expect(busy.scaler.poke(firstRequest, 1)).toBeUndefined(); // not at zero
  });
});
