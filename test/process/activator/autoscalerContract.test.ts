// The activator's stats reach the autoscaler's stat endpoint in the shape it reads.
import { afterEach, describe, expect, it } from 'vitest';
import { HttpStatsReporter } from '../../../activator/stats.ts';
import { ActivatorMetrics } from '../../../activator/metrics.ts';
import { createStatServer, listenStatServer, STAT_PATH } from '../../../autoscaler/collector/statServer.ts';
import type { Stat } from '../../../autoscaler/metrics/revisionMetrics.ts';
import { createLogger } from '../../../lib/log.ts';
import { createRegistry } from '../../../lib/metrics.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('activator → autoscaler stats', () => {
  it('the autoscaler accepts what the activator reports, with its concurrency and count', async () => {
    const received: [string, Stat][] = [];
    let resolveReceived!: () => void;
    const arrived = new Promise<void>((resolve) => {
      resolveReceived = resolve;
    });
    const server = createStatServer({
      receiver: {
        push: (key, stat) => {
          received.push([key, stat]);
          resolveReceived();
          return true;
        },
      },
    });
    const port = await listenStatServer(server, 0, '127.0.0.1');
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const log = createLogger('test');
    const reporter = new HttpStatsReporter(
      `http://127.0.0.1:${port}${STAT_PATH}`,
      log,
      new ActivatorMetrics(createRegistry('activator', false), () => []),
    );
    closers.push(() => reporter.close());
    reporter.report([
      {
        namespace: 'ns',
        revision: 'hello-00001',
        podName: 'activator-0',
        averageConcurrency: 3.5,
        requestCount: 7,
        firstRequest: false,
        timestamp: 0,
      },
    ]);
    await arrived;
    expect(received).toEqual([
      [
        'ns/hello-00001',
        expect.objectContaining({
          podName: 'activator-0',
          averageConcurrentRequests: 3.5,
          averageProxiedConcurrentRequests: 0,
          requestCount: 7,
          proxiedRequestCount: 0,
        }),
      ],
    ]);
  });
});
