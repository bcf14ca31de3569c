import { describe, expect, it } from 'vitest';
import { RevisionConditions, RouteConditions, type Status } from '../../lib/apis/conditions.ts';
import { FakeClock } from '../../lib/testing/fakeClock.ts';

describe('living condition sets', () => {
  it('Ready turns True only when every dependent is True', () => {
    const status: Status = {};
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'));
    const c = RevisionConditions.manage(status, clock);
    c.initialize();
    expect(status.conditions?.map((x) => `${x.type}=${x.status}`)).toEqual([
      'ContainerHealthy=Unknown',
      'Ready=Unknown',
      'ResourcesAvailable=Unknown',
    ]);
    c.markTrue('ResourcesAvailable');
    expect(c.isHappy()).toBe(false);
    c.markTrue('ContainerHealthy');
    expect(c.isHappy()).toBe(true);
  });

  it('a False dependent makes Ready False with its reason, and a later Unknown elsewhere does not hide it', () => {
    const status: Status = {};
    const c = RouteConditions.manage(status, new FakeClock());
    c.initialize();
    c.markFalse('AllTrafficAssigned', 'RevisionMissing', 'Revision "x" referenced in traffic not found.');
    c.markUnknown('IngressReady', 'IngressNotConfigured', 'Ingress has not yet been reconciled.');
    expect(c.get('Ready')).toMatchObject({ status: 'False', reason: 'RevisionMissing' });
    c.markTrue('AllTrafficAssigned');
    c.markUnknown('IngressReady', 'IngressNotConfigured', 'Ingress has not yet been reconciled.');
    expect(c.get('Ready')).toMatchObject({ status: 'Unknown', reason: 'IngressNotConfigured' });
  });

  it('moves lastTransitionTime only when the status changes; non-dependents are Info', () => {
    const status: Status = {};
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'));
    const c = RevisionConditions.manage(status, clock);
    c.markUnknown('ResourcesAvailable', 'Deploying', 'first');
    clock.advance(5000);
    c.markUnknown('ResourcesAvailable', 'Deploying', 'second');
    expect(c.get('ResourcesAvailable')).toMatchObject({
      lastTransitionTime: '2026-11-23T10:00:00Z',
      message: 'second',
    });
    c.markTrue('ResourcesAvailable');
    expect(c.get('ResourcesAvailable')?.lastTransitionTime).toBe('2026-11-23T10:00:05Z');
    c.markFalse('Active', 'NoTraffic', 'The target is not receiving traffic.');
    expect(c.get('Active')?.severity).toBe('Info');
    expect(c.get('Ready')?.status).not.toBe('False');
  });
});
