import { describe, expect, it } from 'vitest';
import { endpointsState, podSteps } from '../../../bench/support/revisionWatch.ts';

describe('podSteps', () => {
  it('reads creation, binding, the IP and readiness from a pod', () => {
    expect(podSteps({ metadata: { name: 'p' } })).toEqual(['podCreated']);
    expect(
      podSteps({
        spec: { nodeName: 'n', containers: [] },
        status: { podIP: '10.0.0.2', conditions: [{ type: 'Ready', status: 'False' }] },
      }),
    ).toEqual(['podCreated', 'podBound', 'podIPSeen']);
    expect(
      podSteps({
        spec: { nodeName: 'n', containers: [] },
        status: { podIP: '10.0.0.2', conditions: [{ type: 'Ready', status: 'True' }] },
      }),
    ).toEqual(['podCreated', 'podBound', 'podIPSeen', 'podReadySeen']);
  });
});

describe('endpointsState', () => {
  it('tells whether the pod is listed, and whether as ready', () => {
    const endpoints = {
      subsets: [{ addresses: [{ ip: '10.0.0.3' }], notReadyAddresses: [{ ip: '10.0.0.2' }] }],
    };
    expect(endpointsState(endpoints, '10.0.0.2')).toBe('notReady');
    expect(endpointsState(endpoints, '10.0.0.3')).toBe('ready');
    expect(endpointsState(endpoints, '10.0.0.4')).toBe('absent');
    expect(endpointsState({}, '10.0.0.2')).toBe('absent');
  });
});
