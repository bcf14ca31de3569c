import { describe, expect, it } from 'vitest';
import {
  activeThreshold,
  chooseSksMode,
  computeActiveCondition,
  numActivators,
  reportedDesiredScale,
  type ActiveConditionInput,
} from '../../../autoscaler/kpa/paStatus.ts';
import type { ActiveState } from '../../../autoscaler/kpa/scalePlan.ts';
import { revisionSettings } from './replay.ts';

const queued = { state: 'activating', reason: 'Queued' };
const noTraffic = { state: 'inactive', reason: 'NoTraffic' };

function condition(want: number, readyPods: number, active: ActiveState, extra: Partial<ActiveConditionInput> = {}) {
  return computeActiveCondition({
    want,
    readyPods,
    settings: revisionSettings(),
    pa: { active, scaleTargetInitialized: true, hasServiceName: true },
    ...extra,
  });
}

describe('computeActiveCondition', () => {
  it('is inactive when nothing is wanted; a failed activation is TimedOut', () => {
    expect(condition(0, 1, 'active').active).toMatchObject(noTraffic);
    expect(condition(0, 0, 'activating').active).toMatchObject({ state: 'inactive', reason: 'TimedOut' });
  });

  it('is activating until the wanted pods are ready, then active', () => {
    expect(condition(1, 0, 'inactive').active).toMatchObject(queued);
    expect(condition(1, 1, 'activating').active).toEqual({ state: 'active' });
  });

  it('with the decider still unknown (−1), stays inactive but does not stay active without pods', () => {
    expect(condition(-1, 0, 'inactive').active).toMatchObject(noTraffic);
    expect(condition(-1, 0, 'active').active).toMatchObject(queued);
    expect(condition(-1, 0, 'activating').active).toMatchObject(queued);
    expect(condition(-1, 1, 'inactive').active).toBeUndefined();
    expect(condition(-1, 1, 'activating').active).toEqual({ state: 'active' });
  });

  it('needs the initial scale ready, and a service name, before the target counts as initialised', () => {
    const settings = revisionSettings({ annotations: { 'initial-scale': '3' } });
    const fresh = { active: 'activating' as const, scaleTargetInitialized: false, hasServiceName: true };
    expect(activeThreshold(settings, false)).toBe(3); // max(min 0, initial 3)
    expect(activeThreshold(settings, true)).toBe(1); // max(min 0, 1)
    expect(computeActiveCondition({ want: 3, readyPods: 2, settings, pa: fresh })).toMatchObject({
      scaleTargetInitialized: false,
      active: queued,
    });
    expect(computeActiveCondition({ want: 3, readyPods: 3, settings, pa: fresh })).toEqual({
      scaleTargetInitialized: true,
      active: { state: 'active' },
    });
    expect(
      computeActiveCondition({ want: 3, readyPods: 3, settings, pa: { ...fresh, hasServiceName: false } })
        .scaleTargetInitialized,
    ).toBe(false);
  });

  it('is inactive from the start with initial-scale 0', () => {
    const settings = revisionSettings({
      config: { 'allow-zero-initial-scale': 'true' },
      annotations: { 'initial-scale': '0' },
    });
    const fresh = { active: 'activating' as const, scaleTargetInitialized: false, hasServiceName: true };
    // threshold max(0, 0) = 0: initialised at once, and NoTraffic although activating
    expect(computeActiveCondition({ want: -1, readyPods: 0, settings, pa: fresh })).toMatchObject({
      scaleTargetInitialized: true,
      active: noTraffic,
    });
  });
});

describe('reportedDesiredScale', () => {
  it('keeps a known desired scale when a restarted autoscaler reports −1', () => {
    expect(reportedDesiredScale(5, -1)).toBe(5);
    expect(reportedDesiredScale(undefined, -1)).toBe(-1);
    expect(reportedDesiredScale(5, 0)).toBe(0);
  });
});

describe('SKS mode and activators', () => {
  it('serves directly only when pods are wanted and the burst capacity is covered', () => {
    expect(chooseSksMode(1, 39)).toBe('Serve');
    expect(chooseSksMode(1, 0)).toBe('Serve'); // target-burst-capacity 0
    expect(chooseSksMode(1, -61)).toBe('Proxy');
    expect(chooseSksMode(3, -1)).toBe('Proxy'); // target-burst-capacity −1
    expect(chooseSksMode(0, 0)).toBe('Proxy');
    expect(chooseSksMode(-1, 89)).toBe('Proxy');
  });

  it('puts enough activators in the path for the ready capacity and the burst capacity', () => {
    const spec = { totalValue: 100, activatorCapacity: 100 };
    expect(numActivators(3, { ...spec, targetBurstCapacity: 211 })).toBe(6); // ceil((300 + 211) / 100)
    expect(numActivators(0, { ...spec, targetBurstCapacity: 211 })).toBe(3); // ceil(211 / 100)
    expect(numActivators(5, { ...spec, targetBurstCapacity: -1 })).toBe(5); // ceil(500 / 100)
    expect(numActivators(1, { ...spec, targetBurstCapacity: -1 })).toBe(2); // at least 2
    expect(numActivators(50, { ...spec, targetBurstCapacity: 0 })).toBe(2);
  });
});
