import { describe, expect, it } from 'vitest';
import { ServiceConditions } from '../../../lib/apis/conditions.ts';
import type { ServiceStatus } from '../../../lib/apis/status.ts';
import type { Route, Configuration } from '../../../lib/apis/serving.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import {
  propagateConfigurationStatus,
  propagateRouteStatus,
  trafficMigrated,
} from '../../../controllers/service/status.ts';

const ready = [{ type: 'Ready', status: 'True' as const }];

const cfg = (latestReady: string, generation = 1, observed = 1): Configuration => ({
  metadata: { name: 'svc', generation },
  status: {
    observedGeneration: observed,
    latestCreatedRevisionName: latestReady,
    latestReadyRevisionName: latestReady,
    conditions: ready,
  },
});

const route = (statusTraffic: object[], generation = 1, observed = 1): Route => ({
  metadata: { name: 'svc', generation },
  spec: { traffic: [{ configurationName: 'svc', latestRevision: true, percent: 100 }] as never },
  status: { observedGeneration: observed, url: 'http://svc.ns.example.com', traffic: statusTraffic, conditions: ready },
});

describe('trafficMigrated', () => {
  it('holds when the status sends the configuration target to its latest ready revision', () => {
    expect(
      trafficMigrated(route([{ revisionName: 'svc-00002', latestRevision: true, percent: 100 }]), cfg('svc-00002')),
    ).toBe(true);
  });

  it('fails while the status still points at the previous revision', () => {
    expect(
      trafficMigrated(route([{ revisionName: 'svc-00001', latestRevision: true, percent: 100 }]), cfg('svc-00002')),
    ).toBe(false);
  });

  it('compares tags and percents, and the number of targets', () => {
    const split = route([{ tag: 'a', revisionName: 'svc-00001', percent: 100 }]);
    split.spec = {
      traffic: [
        { tag: 'a', revisionName: 'svc-00001', percent: 90 },
        { configurationName: 'svc', percent: 10 },
      ] as never,
    };
    expect(trafficMigrated(split, cfg('svc-00001'))).toBe(false);
    split.status!.traffic = [
      { tag: 'a', revisionName: 'svc-00001', percent: 90 },
      { revisionName: 'svc-00001', percent: 10, latestRevision: true },
    ];
    expect(trafficMigrated(split, cfg('svc-00001'))).toBe(true);
  });
});

describe('Service status from its children', () => {
  const manage = (status: ServiceStatus) => ServiceConditions.manage(status, new FakeClock(0));

  it('marks a child that has not observed its generation OutOfDate and copies nothing from it', () => {
    const status: ServiceStatus = {};
    const manager = manage(status);
    propagateConfigurationStatus(status, manager, cfg('svc-00002', 2, 1));
    expect(manager.get('ConfigurationsReady')).toMatchObject({ status: 'Unknown', reason: 'OutOfDate' });
    expect(status.latestReadyRevisionName).toBeUndefined();
  });

  it('is Ready when both children are, with the route URL and traffic copied', () => {
    const status: ServiceStatus = {};
    const manager = manage(status);
    propagateConfigurationStatus(status, manager, cfg('svc-00001'));
    propagateRouteStatus(
      status,
      manager,
      route([{ revisionName: 'svc-00001', latestRevision: true, percent: 100 }]),
      cfg('svc-00001'),
    );
    expect(manager.get('Ready')?.status).toBe('True');
    expect(status).toMatchObject({
      url: 'http://svc.ns.example.com',
      latestReadyRevisionName: 'svc-00001',
      traffic: [{ revisionName: 'svc-00001' }],
    });
  });

  it('holds RoutesReady at TrafficNotMigrated while a Ready route lags the configuration', () => {
    const status: ServiceStatus = {};
    const manager = manage(status);
    propagateConfigurationStatus(status, manager, cfg('svc-00002'));
    propagateRouteStatus(
      status,
      manager,
      route([{ revisionName: 'svc-00001', latestRevision: true, percent: 100 }]),
      cfg('svc-00002'),
    );
    expect(manager.get('RoutesReady')).toMatchObject({ status: 'Unknown', reason: 'TrafficNotMigrated' });
    expect(manager.get('Ready')?.status).toBe('Unknown');
  });

  it("copies the Route's canary condition, which does not gate Ready, and drops it with the Route's", () => {
    const status: ServiceStatus = {};
    const manager = manage(status);
    const served = route([{ revisionName: 'svc-00001', latestRevision: true, percent: 100 }]);
    const canary = { type: 'CanaryReady', status: 'True' as const, reason: 'Succeeded', message: 'done.' };
    served.status!.conditions = [...ready, canary];
    propagateConfigurationStatus(status, manager, cfg('svc-00001'));
    propagateRouteStatus(status, manager, served, cfg('svc-00001'));
    expect(manager.get('CanaryReady')).toMatchObject({ ...canary, severity: 'Info' });
    served.status!.conditions = [...ready, { ...canary, status: 'Unknown', reason: 'CanaryInProgress' }];
    propagateRouteStatus(status, manager, served, cfg('svc-00001'));
    expect(manager.get('CanaryReady')).toMatchObject({ status: 'Unknown', reason: 'CanaryInProgress' });
    expect(manager.get('Ready')?.status).toBe('True');
    served.status!.conditions = ready;
    propagateRouteStatus(status, manager, served, cfg('svc-00001'));
    expect(manager.get('CanaryReady')).toBeUndefined();
  });

  it('carries a failed configuration into ConfigurationsReady and Ready', () => {
    const status: ServiceStatus = {};
    const manager = manage(status);
    const failed = cfg('');
    failed.status!.conditions = [
      {
        type: 'Ready',
        status: 'False',
        reason: 'RevisionFailed',
        message: 'Revision "svc-00001" failed with message: boom.',
      },
    ];
    propagateConfigurationStatus(status, manager, failed);
    expect(manager.get('Ready')).toMatchObject({
      status: 'False',
      reason: 'RevisionFailed',
      message: 'Revision "svc-00001" failed with message: boom.',
    });
  });
});
