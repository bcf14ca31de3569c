// The stats the activator sends to the autoscaler, received by a real HTTP sink: the first
// request for a revision at zero is reported before any pod exists, then concurrency every
// second that matches the load the activator carries.
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivatorStat } from '../../../activator/stats.ts';
import {
  eventually,
  putRevision,
  reservePodPorts,
  send,
  startActivator,
  startPod,
  StatsSink,
  type ActivatorProc,
  type Pod,
} from '../../../harness/activator.ts';

const LOAD_CONCURRENCY = 10;
const LOAD_REQUESTS_PER_WORKER = 35;
const REQUEST_SLEEP_MS = 100;

describe('activator: stats for the autoscaler', () => {
  const sink = new StatsSink();
  let activator: ActivatorProc;
  let pod: Pod | undefined;
  const client = new Agent({ connections: 32 });

  beforeAll(async () => {
    activator = await startActivator(['--stats-url', await sink.listen()]);
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await pod?.stop();
    await sink.close();
  });

  it('reports the first request for a revision at zero at once, before any pod exists', async () => {
    const ports = await reservePodPorts();
    await putRevision(activator, 'stats-00001', { containerConcurrency: 0, pods: [ports.address] });
    const first = send(activator, client, 'stats-00001', '/first');
    await eventually('the first-request stat arrived', () => sink.stats.some((s) => s.firstRequest));
    expect(sink.stats[0]).toMatchObject({
      namespace: 'default',
      revision: 'stats-00001',
      podName: 'activator-test',
      averageConcurrency: 1,
      requestCount: 1,
      firstRequest: true,
    });
    // Only now does a pod start, so the report cannot have waited for one.
    pod = await startPod(ports);
    expect((await first).status).toBe(200);
  });

  it(`reports each second's average concurrency within 10% of a steady load of ${LOAD_CONCURRENCY}, and every request once`, async () => {
    // A revision of its own on the same pod, so its stats count only this load.
    await putRevision(activator, 'load-00001', { containerConcurrency: 0, pods: [pod!.address] });
    await eventually('the pod answered its probe', () =>
      activator.lines.some(
        (l) => l.message === 'pod answered its probe; releasing held requests' && l.revision === 'default/load-00001',
      ),
    );
    const loadStartedAt = Date.now();
    await Promise.all(
      Array.from({ length: LOAD_CONCURRENCY }, async (_, worker) => {
        for (let i = 0; i < LOAD_REQUESTS_PER_WORKER; i++) {
          const { status } = await send(
            activator,
            client,
            'load-00001',
            `/load/${worker}/${i}?sleep=${REQUEST_SLEEP_MS}`,
          );
          expect(status).toBe(200);
        }
      }),
    );
    const loadEndedAt = Date.now();
    // Periods that lie wholly inside the load; the first one after start may still carry idle time.
    const ofLoad = () => sink.stats.filter((s: ActivatorStat) => s.revision === 'load-00001');
    const steady = ofLoad().filter(
      (s) => !s.firstRequest && s.timestamp - 1000 >= loadStartedAt + 100 && s.timestamp <= loadEndedAt,
    );
    expect(steady.length).toBeGreaterThanOrEqual(2);
    for (const stat of steady) {
      expect(stat.averageConcurrency).toBeGreaterThanOrEqual(LOAD_CONCURRENCY * 0.9);
      expect(stat.averageConcurrency).toBeLessThanOrEqual(LOAD_CONCURRENCY * 1.1);
    }
    // The immediate first-request report and the periodic ones count each request exactly once.
    const sent = LOAD_CONCURRENCY * LOAD_REQUESTS_PER_WORKER;
    await eventually(
      `reported request counts add up to ${sent}`,
      () => ofLoad().reduce((sum, s) => sum + s.requestCount, 0) === sent,
    );
  });
});
