// The autoscaler's per-revision state on a fake clock: ticks every two seconds, a pushed stat
// at zero decided at once, scraping only where someone scrapes, timers gone with the revision.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import { AutoscalerMetrics } from '../../../autoscaler/kpa/metrics.ts';
import { RevisionScalers, type RevisionScalerTarget } from '../../../autoscaler/kpa/revisionScalers.ts';
import { resolveRevisionAutoscaling } from '../../../autoscaler/revisionAutoscaling.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const KEY = 'ns/rev-00001';
const labels = {
  k8s_namespace_name: 'ns',
  kn_service_name: 'svc',
  kn_configuration_name: 'cfg',
  kn_revision_name: 'rev-00001',
};

function target(annotations: Record<string, number> = {}): RevisionScalerTarget {
  return {
    namespace: 'ns',
    revision: 'rev-00001',
    labels,
    settings: resolveRevisionAutoscaling(parseAutoscalerConfig(undefined), annotations, {
      containerConcurrency: 0,
      reachable: true,
    }),
  };
}

/** Ticks fall half-way through a second, after that second's scrape, as they may in real life. */
function setUp() {
  const clock = new FakeClock(1_000_500);
  const registry = new Registry();
  const changes: string[] = [];
  const panics: boolean[] = [];
  const scalers = new RevisionScalers({
    clock,
    pods: new StaticPodSource(),
    metrics: new AutoscalerMetrics(registry),
    onStatusChange: (key) => changes.push(key),
    onPanicChange: (_key, panicking) => panics.push(panicking),
  });
  return { clock, registry, changes, panics, scalers };
}

const activatorStat = {
  podName: 'activator',
  averageConcurrentRequests: 1,
  averageProxiedConcurrentRequests: 0,
  requestCount: 1,
  proxiedRequestCount: 0,
};

describe('RevisionScalers', () => {
  it('decides every two seconds and tells the reconciler only when the status moved', () => {
    const { clock, changes, scalers } = setUp();
    // Burst capacity −1: nobody scrapes, so silence is no load and the first tick decides zero.
    scalers.ensure(KEY, target({ targetBurstCapacity: -1 }));
    clock.advance(1999);
    expect(scalers.status(KEY)?.desiredScale).toBe(-1);
    clock.advance(1);
    expect(scalers.status(KEY)?.desiredScale).toBe(0);
    expect(changes).toEqual([KEY]);
    clock.advance(2000);
    expect(changes).toEqual([KEY]);
  });

  it('decides on the first stat pushed for a revision at zero without waiting for the tick', () => {
    const { clock, changes, scalers } = setUp();
    scalers.ensure(KEY, target({ targetBurstCapacity: -1 }));
    clock.advance(2000);
    changes.length = 0;
    expect(scalers.push(KEY, activatorStat)).toBe(true);
    expect(scalers.status(KEY)?.desiredScale).toBe(1);
    expect(changes).toEqual([KEY]);
    expect(scalers.push('ns/unknown', activatorStat)).toBe(false);
  });

  it('scrapes only revisions whose pods report, and feeds the scraped estimate to the decision', () => {
    const { clock, scalers } = setUp();
    scalers.ensure(KEY, target());
    scalers.ensure('ns/proxied-00001', { ...target({ targetBurstCapacity: -1 }), revision: 'proxied-00001' });
    expect(scalers.scrapeTargets()).toEqual([
      { key: KEY, namespace: 'ns', revision: 'rev-00001', stableWindowMs: 60_000 },
    ]);
    // No data yet: no decision.
    clock.advance(2000);
    expect(scalers.status(KEY)?.desiredScale).toBe(-1);
    scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 140, requestCount: 0 });
    clock.advance(2000);
    // 140 concurrent requests at the default target of 70 per pod.
    expect(scalers.status(KEY)?.desiredScale).toBe(2);
  });

  it("publishes the decision under Knative's metric names and drops them with the revision", async () => {
    const { clock, registry, scalers } = setUp();
    scalers.ensure(KEY, target({ targetBurstCapacity: -1 }));
    clock.advance(2000);
    const text = await registry.metrics();
    expect(text).toContain(
      'kn_revision_pods_desired{k8s_namespace_name="ns",kn_service_name="svc",kn_configuration_name="cfg",kn_revision_name="rev-00001"} 0',
    );
    expect(text).toContain(
      'kn_revision_concurrency_target{k8s_namespace_name="ns",kn_service_name="svc",kn_configuration_name="cfg",kn_revision_name="rev-00001"} 70',
    );
    expect(text).toMatch(/kn_revision_panic_mode\{[^}]*\} 0/);
    scalers.delete(KEY);
    expect(await registry.metrics()).not.toContain('rev-00001');
    expect(clock.pendingTimers).toBe(0);
  });

  it('decides at once on a scrape that asks for more pods, and leaves everything else to the tick', () => {
    const { clock, changes, panics, scalers } = setUp();
    scalers.ensure(KEY, target({ windowMs: 6000 }));
    clock.advance(1000);
    // The first decision waits for its tick.
    scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 60 });
    expect(scalers.status(KEY)?.desiredScale).toBe(-1);
    clock.advance(1000);
    expect(scalers.status(KEY)?.desiredScale).toBe(1);
    changes.length = 0;
    clock.advance(200);
    // No more than one pod's worth: nothing to hurry.
    scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 20 });
    expect(changes).toEqual([]);
    clock.advance(1000);
    scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 700 });
    // A 6 s stable window has a 1 s panic window, which holds the 700: ten pods of 70, a panic.
    expect(scalers.status(KEY)?.desiredScale).toBe(10);
    expect(changes).toEqual([KEY]);
    expect(panics).toEqual([true]);
    // Less load than decided for: the scale-down waits for the tick, and panic holds anyway.
    clock.advance(1000);
    scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 0 });
    expect(scalers.status(KEY)?.desiredScale).toBe(10);
    expect(changes).toEqual([KEY]);
  });

  it('decides at once on a pushed stat that asks for more pods on a revision that is not at zero', () => {
    const { clock, scalers } = setUp();
    scalers.ensure(KEY, target({ targetBurstCapacity: -1, windowMs: 6000 }));
    scalers.push(KEY, { ...activatorStat, averageConcurrentRequests: 50 });
    clock.advance(2000);
    expect(scalers.status(KEY)?.desiredScale).toBe(1);
    scalers.push(KEY, { ...activatorStat, averageConcurrentRequests: 500 });
    expect(scalers.status(KEY)?.desiredScale).toBeGreaterThan(1);
  });

  it('reports panic starting and ending', () => {
    const { clock, panics, scalers } = setUp();
    // A 6 s stable window, so a 1 s panic window: the burst must land in the second of the tick.
    scalers.ensure(KEY, target({ windowMs: 6000 }));
    clock.advance(1500);
    scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 700 });
    clock.advance(500);
    expect(panics).toEqual([true]);
    for (let i = 0; i < 10; i++) {
      scalers.recordScraped(KEY, clock.now(), { ...activatorStat, averageConcurrentRequests: 0, requestCount: 0 });
      clock.advance(1000);
    }
    expect(panics).toEqual([true, false]);
  });
});
