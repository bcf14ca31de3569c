// The collector's once-a-second loop on a fake clock, with pods that answer from memory.
import type { V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricCollector, type ScrapeSink, type ScrapeTarget } from '../../../autoscaler/collector/collector.ts';
import { isReadyPod, StaticPodSource, toScrapePod } from '../../../autoscaler/collector/podSource.ts';
import type { PodStat } from '../../../autoscaler/collector/queueProxyStat.ts';
import type { Stat } from '../../../autoscaler/metrics/revisionMetrics.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const target: ScrapeTarget = { key: 'ns/rev', namespace: 'ns', revision: 'rev', stableWindowMs: 60_000 };
/** Lets the scrape's promise chain, and the timer it arms when done, run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function setUp(concurrency: (pod: string) => number) {
  const clock = new FakeClock(10_000);
  const recorded: { atMs: number; stat: Stat }[] = [];
  const sink: ScrapeSink = {
    scrapeTargets: () => [target],
    recordScraped: (_key, atMs, stat) => recorded.push({ atMs, stat }),
  };
  const pods = new StaticPodSource();
  pods.set(
    'ns',
    'rev',
    ['a', 'b'].map((name) => ({ name, ip: '127.0.0.1', port: 1, startedAtMs: 0 })),
  );
  const collector = new MetricCollector({
    sink,
    pods,
    clock,
    registry: new Registry(),
    rand: () => 0,
    fetchStat: async (pod): Promise<PodStat> => {
      const value = concurrency(pod.name);
      if (Number.isNaN(value)) throw new Error('refused');
      return {
        podName: pod.name,
        averageConcurrentRequests: value,
        averageProxiedConcurrentRequests: 0,
        requestCount: 0,
        proxiedRequestCount: 0,
        processUptime: 100,
      };
    },
  });
  return { clock, recorded, collector };
}

describe('MetricCollector', () => {
  it('scrapes at once, then every second, until stopped', async () => {
    const { clock, recorded, collector } = setUp(() => 1.5);
    collector.start();
    await settle();
    expect(recorded).toEqual([
      { atMs: 10_000, stat: expect.objectContaining({ podName: 'service-scraper', averageConcurrentRequests: 3 }) },
    ]);
    clock.advance(999);
    await settle();
    expect(recorded).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(recorded.map((r) => r.atMs)).toEqual([10_000, 11_000]);
    collector.stop();
    clock.advance(5000);
    await settle();
    expect(recorded).toHaveLength(2);
  });

  it('records nothing for a second in which no pod answered, and carries on', async () => {
    let failing = true;
    const { clock, recorded, collector } = setUp(() => (failing ? Number.NaN : 2));
    collector.start();
    await settle();
    expect(recorded).toEqual([]);
    failing = false;
    clock.advance(1000);
    await settle();
    expect(recorded).toEqual([{ atMs: 11_000, stat: expect.objectContaining({ averageConcurrentRequests: 4 }) }]);
    collector.stop();
  });
});

describe('Kubernetes pods as scrape targets', () => {
  const pod = (overrides: Partial<NonNullable<V1Pod['status']>> = {}, deleting = false): V1Pod => ({
    metadata: {
      name: 'rev-abc',
      namespace: 'ns',
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      ...(deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: {
      phase: 'Running',
      podIP: '10.244.0.7',
      startTime: new Date('2026-01-01T00:00:05Z'),
      conditions: [{ type: 'Ready', status: 'True' }],
      ...overrides,
    },
  });

  it('counts running, ready pods with an address that are not being deleted', () => {
    expect(isReadyPod(pod())).toBe(true);
    expect(isReadyPod(pod({ phase: 'Pending' }))).toBe(false);
    expect(isReadyPod(pod({ conditions: [{ type: 'Ready', status: 'False' }] }))).toBe(false);
    expect(isReadyPod(pod({ podIP: undefined }))).toBe(false);
    expect(isReadyPod(pod({}, true))).toBe(false);
  });

  it('scrapes the queue-proxy metrics port and dates the pod from its start', () => {
    expect(toScrapePod(pod())).toEqual({
      name: 'rev-abc',
      ip: '10.244.0.7',
      port: 9090,
      startedAtMs: Date.parse('2026-01-01T00:00:05Z'),
    });
  });
});
