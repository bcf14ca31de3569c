import { describe, expect, it } from 'vitest';
import { parseQueueProxyStat, type PodStat } from '../../../autoscaler/collector/queueProxyStat.ts';
import type { ScrapePod } from '../../../autoscaler/collector/sampling.ts';
import { SCRAPER_POD_NAME, scrapeRevision } from '../../../autoscaler/collector/scraper.ts';
import { AutoscalerStatsReporter } from '../../../queue-proxy/stats.ts';

const pods = (n: number): ScrapePod[] =>
  Array.from({ length: n }, (_, i) => ({ name: `pod-${i}`, ip: `10.0.0.${i}`, port: 9090, startedAtMs: 0 }));
const stat = (name: string, concurrency: number, rps = 0): PodStat => ({
  podName: name,
  averageConcurrentRequests: concurrency,
  averageProxiedConcurrentRequests: 0,
  requestCount: rps,
  proxiedRequestCount: 0,
  processUptime: 100,
});
const options = (fetchStat: (pod: ScrapePod) => Promise<PodStat>) => ({
  nowMs: 1_000_000,
  stableWindowMs: 60_000,
  fetchStat,
  rand: () => 0,
});

describe('scrapeRevision', () => {
  it('asks every pod of a small revision and reports their sum', async () => {
    const asked: string[] = [];
    const result = await scrapeRevision(
      pods(3),
      options(async (pod) => {
        asked.push(pod.name);
        return stat(pod.name, 2, 10);
      }),
    );
    expect(asked.sort()).toEqual(['pod-0', 'pod-1', 'pod-2']);
    expect(result).toEqual({
      kind: 'ok',
      sampled: 3,
      population: 3,
      stat: {
        podName: SCRAPER_POD_NAME,
        averageConcurrentRequests: 6,
        averageProxiedConcurrentRequests: 0,
        requestCount: 30,
        proxiedRequestCount: 0,
      },
    });
  });

  it('asks a sample of a large revision and scales its mean to every pod', async () => {
    let asked = 0;
    const result = await scrapeRevision(
      pods(100),
      options(async (pod) => {
        asked++;
        return stat(pod.name, 3);
      }),
    );
    expect(asked).toBe(14);
    expect(result).toMatchObject({
      kind: 'ok',
      sampled: 14,
      population: 100,
      stat: { averageConcurrentRequests: 300 },
    });
  });

  it('replaces a pod that fails with one not yet asked', async () => {
    const asked: string[] = [];
    const result = await scrapeRevision(
      pods(10),
      options(async (pod) => {
        asked.push(pod.name);
        if (pod.name === 'pod-3') throw new Error('connection refused');
        return stat(pod.name, 1);
      }),
    );
    expect(asked).toHaveLength(8);
    expect(result).toMatchObject({ kind: 'ok', sampled: 7, stat: { averageConcurrentRequests: 10 } });
  });

  it('estimates from the pods that answered when the rest fail', async () => {
    const errors: string[] = [];
    const result = await scrapeRevision(pods(3), {
      ...options(async (pod) => {
        if (pod.name !== 'pod-1') throw new Error('timeout');
        return stat(pod.name, 4);
      }),
      onPodError: (pod) => errors.push(pod.name),
    });
    expect(errors.sort()).toEqual(['pod-0', 'pod-2']);
    expect(result).toMatchObject({ kind: 'ok', sampled: 1, population: 3, stat: { averageConcurrentRequests: 12 } });
  });

  it('reports a failure when no pod answers, and nothing when there are no pods', async () => {
    expect(
      await scrapeRevision(
        pods(2),
        options(async () => {
          throw new Error('down');
        }),
      ),
    ).toEqual({ kind: 'failed', tried: 2 });
    expect(
      await scrapeRevision(
        [],
        options(async (pod) => stat(pod.name, 1)),
      ),
    ).toEqual({ kind: 'no-pods' });
  });
});

describe('parseQueueProxyStat', () => {
  it('reads what the queue-proxy serves on its autoscaler port', () => {
    const reporter = new AutoscalerStatsReporter(
      { namespace: 'ns', configuration: 'cfg', revision: 'rev', pod: 'a pod' },
      1000,
      0,
    );
    reporter.report(
      { averageConcurrency: 2.5, averageProxiedConcurrency: 0.5, requestCount: 7, proxiedRequestCount: 1 },
      42_000,
    );
    expect(parseQueueProxyStat(reporter.text(), 'pod-a')).toEqual({
      podName: 'pod-a',
      averageConcurrentRequests: 2.5,
      averageProxiedConcurrentRequests: 0.5,
      requestCount: 7,
      proxiedRequestCount: 1,
      processUptime: 42,
    });
  });

  it('refuses a report without the concurrency gauge', () => {
    expect(() => parseQueueProxyStat('# HELP other\nother_metric 1\n', 'pod-a')).toThrow(
      /queue_average_concurrent_requests/,
    );
  });

  it('refuses a gauge without a number', () => {
    expect(() => parseQueueProxyStat('queue_average_concurrent_requests{a="b"} NaN-ish\n', 'pod-a')).toThrow(/numeric/);
  });
});
