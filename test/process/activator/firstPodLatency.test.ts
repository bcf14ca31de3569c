// The first pod of a revision scaled to zero: the activator holds requests, a real queue-proxy
// and app start, and traffic reaches the app only after the pod has answered its probe, released
// by the activator at once. The app runs in this process so it can time each arrival; how long
// the release takes is bench/activator.ts's to measure, not this test's.
import { createServer, type Server } from 'node:http';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLine, type QueueProxyProc } from '../../../harness/processes.ts';
import { heldRequests, startActivator, startQueueProxyFor, type ActivatorProc } from '../../../harness/activator.ts';
import { holdRequestsAtZero, releaseLine } from './heldAtZero.ts';

const HELD = 50;

/** Milliseconds since the epoch of a child's JSON log line. */
const loggedAt = (line: Record<string, unknown>) => Date.parse(line.timestamp as string);

describe('activator: the first pod of a revision at zero', () => {
  let activator: ActivatorProc;
  let queueProxy: QueueProxyProc | undefined;
  let app: Server | undefined;
  const client = new Agent({ connections: HELD + 10 });

  beforeAll(async () => {
    activator = await startActivator();
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await queueProxy?.stop();
    app?.closeAllConnections();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
  });

  it('gets the held requests only after answering its probe, each exactly once', async () => {
    const { ports, answers } = await holdRequestsAtZero(activator, client, 'first-00001', HELD);

    queueProxy = await startQueueProxyFor(ports);
    const arrivals: Array<{ at: number; path: string }> = [];
    app = createServer((req, res) => {
      arrivals.push({ at: Date.now(), path: req.url ?? '' });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url);
    });
    await new Promise<void>((resolve) => app!.listen(ports.appPort, '127.0.0.1', resolve));
    const results = await answers;

    expect(results.map((r) => r.status)).toEqual(Array(HELD).fill(200));
    expect(new Set(results.map((r) => r.body)).size).toBe(HELD);
    expect(arrivals.map((a) => a.path).sort()).toEqual(results.map((r) => r.body).sort());

    const answered = await waitForLine(queueProxy, (l) => l.message === 'first health check answered ready');
    expect(answered.userAgent).toMatch(/^Knative-Activator-Probe/);
    const release = releaseLine(activator);
    expect(release).toMatchObject({ revision: 'default/first-00001', pod: ports.address, waiting: HELD });
    // Causality, at the logs' millisecond resolution: probe answered, then release, then traffic.
    const firstArrival = Math.min(...arrivals.map((a) => a.at));
    expect(loggedAt(answered)).toBeLessThanOrEqual(loggedAt(release!));
    expect(loggedAt(release!)).toBeLessThanOrEqual(firstArrival);
    expect(await heldRequests(activator, 'first-00001')).toBe(0);
  });
});
