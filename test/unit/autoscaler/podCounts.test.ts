// Pods of a revision by state, and the gauges the PodAutoscaler reconciler publishes from them
// (upstream PodCountsByState and kn.revision.pods.*).
import type { V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { countPodsByState, StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import { AutoscalerMetrics, type RevisionMetricLabels } from '../../../autoscaler/kpa/metrics.ts';

function pod(phase: string, options: { ready?: boolean; deleting?: boolean } = {}): V1Pod {
  return {
    metadata: { name: 'p', ...(options.deleting ? { deletionTimestamp: new Date() } : {}) },
    status: {
      phase,
      podIP: '10.0.0.1',
      conditions: options.ready === undefined ? [] : [{ type: 'Ready', status: options.ready ? 'True' : 'False' }],
    },
  };
}

describe('countPodsByState', () => {
  it('counts pending, terminating and unready running pods as not ready, and leaves finished pods out', () => {
    const counts = countPodsByState([
      pod('Running', { ready: true }),
      pod('Running', { ready: true }),
      pod('Running', { ready: false }),
      pod('Running'),
      pod('Running', { ready: true, deleting: true }),
      pod('Pending'),
      pod('Pending', { ready: false }),
      pod('Succeeded', { ready: false }),
      pod('Failed'),
    ]);
    expect(counts).toEqual({ ready: 2, notReady: 5, pending: 2, terminating: 1 });
  });

  it('finds nothing in no pods', () => {
    expect(countPodsByState([])).toEqual({ ready: 0, notReady: 0, pending: 0, terminating: 0 });
  });
});

describe('StaticPodSource', () => {
  it('reports its ready pods and the unready counts it was given', () => {
    const pods = new StaticPodSource();
    const ready = [{ name: 'a', ip: '127.0.0.1', port: 1, startedAtMs: 0 }];
    pods.set('ns', 'rev', ready, { notReady: 3, pending: 2, terminating: 1 });
    expect(pods.podCounts('ns', 'rev')).toEqual({ ready: 1, notReady: 3, pending: 2, terminating: 1 });
    pods.set('ns', 'rev', [...ready, { ...ready[0]!, name: 'b' }]);
    expect(pods.podCounts('ns', 'rev')).toEqual({ ready: 2, notReady: 0, pending: 0, terminating: 0 });
    expect(pods.podCounts('ns', 'other')).toEqual({ ready: 0, notReady: 0, pending: 0, terminating: 0 });
  });
});

describe('AutoscalerMetrics.recordPods', () => {
  const labels: RevisionMetricLabels = {
    k8s_namespace_name: 'ns',
    kn_service_name: 's',
    kn_configuration_name: 'c',
    kn_revision_name: 'r',
  };
  const gauge = async (registry: Registry, name: string) =>
    (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.kn_revision_name === 'r')?.value;

  it('publishes requested, ready, not ready, pending and terminating pods under Knative names', async () => {
    const registry = new Registry();
    const metrics = new AutoscalerMetrics(registry);
    metrics.recordPods(labels, 4, { ready: 1, notReady: 3, pending: 2, terminating: 1 });
    expect(await gauge(registry, 'kn_revision_pods_requested')).toBe(4);
    expect(await gauge(registry, 'kn_revision_pods_count')).toBe(1);
    expect(await gauge(registry, 'kn_revision_pods_not_ready_count')).toBe(3);
    expect(await gauge(registry, 'kn_revision_pods_pending_count')).toBe(2);
    expect(await gauge(registry, 'kn_revision_pods_terminating_count')).toBe(1);
  });

  it('keeps the last requested count while the wanted scale is unknown, and updates the pod counts', async () => {
    const registry = new Registry();
    const metrics = new AutoscalerMetrics(registry);
    metrics.recordPods(labels, 3, { ready: 3, notReady: 0, pending: 0, terminating: 0 });
    metrics.recordPods(labels, -1, { ready: 2, notReady: 1, pending: 0, terminating: 1 });
    expect(await gauge(registry, 'kn_revision_pods_requested')).toBe(3);
    expect(await gauge(registry, 'kn_revision_pods_count')).toBe(2);
    expect(await gauge(registry, 'kn_revision_pods_terminating_count')).toBe(1);
    metrics.forget(labels);
    expect(await gauge(registry, 'kn_revision_pods_not_ready_count')).toBeUndefined();
  });
});
