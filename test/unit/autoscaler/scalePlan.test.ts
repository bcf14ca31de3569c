// Defaults unless a test says otherwise: stable window 60s, scale-to-zero grace 30s, no pod
// retention, progress deadline 600s, target burst capacity 211.
import { describe, expect, it } from 'vitest';
import { planScale, type ScalePlanInput } from '../../../autoscaler/kpa/scalePlan.ts';
import { revisionSettings, type RevisionOptions } from './replay.ts';

const s = (seconds: number) => seconds * 1000;

function input(overrides: Partial<ScalePlanInput> & { revision?: RevisionOptions } = {}): ScalePlanInput {
  const { revision, ...rest } = overrides;
  return {
    nowMs: s(1000),
    desiredScale: 1,
    pa: { active: 'active', activeSinceMs: 0, scaleTargetInitialized: true },
    settings: revisionSettings(revision),
    config: { enableScaleToZero: true, scaleToZeroGracePeriodMs: s(30) },
    progressDeadlineMs: s(600),
    sks: { mode: 'Serve', proxyingSinceMs: undefined },
    activatorInPath: true,
    currentReplicas: 1,
    ...rest,
  };
}

const inactiveSince = (second: number) => ({
  active: 'inactive' as const,
  activeSinceMs: s(second),
  scaleTargetInitialized: true,
});

describe('planScale: bounds', () => {
  it('patches the scale target only when the count differs', () => {
    expect(planScale(input({ desiredScale: 3, currentReplicas: 1 }))).toEqual({ want: 3, patchReplicas: 3 });
    expect(planScale(input({ desiredScale: 3, currentReplicas: 3 }))).toEqual({ want: 3 });
    // unset replicas read as 1
    expect(planScale(input({ desiredScale: 1, currentReplicas: undefined }))).toEqual({ want: 1 });
  });

  it('clamps to max-scale and min-scale', () => {
    expect(planScale(input({ desiredScale: 12, revision: { annotations: { 'max-scale': '5' } } }))).toEqual({
      want: 5,
      patchReplicas: 5,
    });
    // min-scale 2 also keeps the revision off the scale-to-zero path
    expect(planScale(input({ desiredScale: 0, revision: { annotations: { 'min-scale': '2' } } }))).toEqual({
      want: 2,
      patchReplicas: 2,
    });
  });

  it('does nothing while the decider has no data, unless the PA is activating', () => {
    expect(planScale(input({ desiredScale: -1 }))).toEqual({ want: -1 });
  });

  it('holds the initial scale until the scale target has reached it once', () => {
    const revision = { annotations: { 'initial-scale': '3' } };
    const fresh = { active: 'activating' as const, activeSinceMs: 0, scaleTargetInitialized: false };
    // unknown desired scale while activating: the floor is max(min 0, initial 3) = 3
    expect(planScale(input({ revision, pa: fresh, desiredScale: -1, currentReplicas: 0 }))).toEqual({
      want: 3,
      patchReplicas: 3,
    });
    expect(planScale(input({ revision, pa: fresh, desiredScale: 1, currentReplicas: 3 }))).toEqual({ want: 3 });
    // once initialised, the decider's 1 applies
    expect(planScale(input({ revision, desiredScale: 1, currentReplicas: 3 }))).toEqual({ want: 1, patchReplicas: 1 });
    // an unreachable revision ignores initial scale
    const unreachable = { annotations: { 'initial-scale': '3' }, reachable: false };
    expect(planScale(input({ revision: unreachable, pa: fresh, desiredScale: 1, currentReplicas: 3 }))).toEqual({
      want: 1,
      patchReplicas: 1,
    });
  });
});

describe('planScale: scale to zero', () => {
  it('keeps one pod when scale to zero is disabled', () => {
    const plan = planScale(
      input({
        desiredScale: 0,
        currentReplicas: 2,
        config: { enableScaleToZero: false, scaleToZeroGracePeriodMs: s(30) },
      }),
    );
    expect(plan).toEqual({ want: 1, patchReplicas: 1 });
  });

  it('keeps one pod while active for less than the stable window, then reports 0 without patching', () => {
    // active since 0; at 30s there are 60 − 30 = 30s left
    expect(planScale(input({ nowMs: s(30), desiredScale: 0, currentReplicas: 3 }))).toEqual({
      want: 1,
      patchReplicas: 1,
      requeueAfterMs: s(30),
    });
    // at 60s: want 0 turns the PA inactive and brings the activator in; the pods stay
    expect(planScale(input({ nowMs: s(60), desiredScale: 0 }))).toEqual({ want: 0 });
    // with the SKS already proxying nothing else will wake the PA: look again in 3s
    expect(planScale(input({ nowMs: s(60), desiredScale: 0, sks: { mode: 'Proxy', proxyingSinceMs: s(20) } }))).toEqual(
      { want: 0, requeueAfterMs: 3000 },
    );
  });

  it('waits for the activator to be confirmed in the path, unless target-burst-capacity is −1', () => {
    const notYet = { nowMs: s(200), desiredScale: 0, pa: inactiveSince(60), activatorInPath: false };
    expect(planScale(input(notYet))).toEqual({ want: 0, probeActivator: true });
    expect(planScale(input({ ...notYet, revision: { annotations: { 'target-burst-capacity': '-1' } } }))).toEqual({
      want: 0,
      patchReplicas: 0,
    });
  });

  it('scales to zero only once inactive for the grace period, waiting out the time left in proxy mode', () => {
    // inactive from 60s; the SKS switched to the activator 5s later
    const proxying = { mode: 'Proxy' as const, proxyingSinceMs: s(65) };
    const at = (second: number) =>
      planScale(input({ nowMs: s(second), desiredScale: 0, pa: inactiveSince(60), sks: proxying }));
    // proxying for 70 − 65 = 5s of 30: look again in 25s
    expect(at(70)).toEqual({ want: 0, requeueAfterMs: s(25) });
    // inactive 29s, proxying 24s: 6s more
    expect(at(89)).toEqual({ want: 0, requeueAfterMs: s(6) });
    // inactive 30s = grace
    expect(at(90)).toEqual({ want: 0, patchReplicas: 0 });
  });

  it('scales to zero at once when inactive for the grace period or proxying long enough already', () => {
    // inactive for 30s, the SKS state unknown
    expect(planScale(input({ nowMs: s(90), desiredScale: 0, pa: inactiveSince(60) }))).toEqual({
      want: 0,
      patchReplicas: 0,
    });
    // inactive 10s, but the activator was already in the path for the 30s (burst capacity not covered)
    const plan = planScale(
      input({ nowMs: s(70), desiredScale: 0, pa: inactiveSince(60), sks: { mode: 'Proxy', proxyingSinceMs: s(40) } }),
    );
    expect(plan).toEqual({ want: 0, patchReplicas: 0 });
  });

  it('keeps the last pod for scale-to-zero-pod-retention-period after going inactive', () => {
    const revision = { annotations: { 'scale-to-zero-pod-retention-period': '2m' } };
    const proxying = { mode: 'Proxy' as const, proxyingSinceMs: s(0) };
    const at = (second: number) =>
      planScale(input({ revision, nowMs: s(second), desiredScale: 0, pa: inactiveSince(60), sks: proxying }));
    // inactive 40s of 120s, although proxying for 100s
    expect(at(100)).toEqual({ want: 0, requeueAfterMs: s(80) });
    // inactive 120s = max(grace 30s, retention 120s)
    expect(at(180)).toEqual({ want: 0, patchReplicas: 0 });
  });

  it('gives up on activation after the progress deadline plus 30s', () => {
    const activating = { active: 'activating' as const, activeSinceMs: 0, scaleTargetInitialized: false };
    // 630s is not more than 600s + 30s: keep waiting, desired unknown
    expect(planScale(input({ nowMs: s(630), desiredScale: 0, pa: activating }))).toEqual({
      want: -1,
      requeueAfterMs: s(630),
    });
    expect(planScale(input({ nowMs: s(631), desiredScale: 0, pa: activating }))).toEqual({ want: 0, patchReplicas: 0 });
  });
});
