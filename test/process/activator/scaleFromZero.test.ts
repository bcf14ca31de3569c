// Scale from zero through a real activator: requests are held while the revision has no pod,
// released when a pod answers its probe, and each reaches the app exactly once.
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueProxyProc, SampleApp } from '../../../harness/processes.ts';
import { startSampleApp } from '../../../harness/processes.ts';
import {
  appStats,
  eventually,
  heldRequests,
  send,
  startActivator,
  startQueueProxyFor,
  type ActivatorProc,
} from '../../../harness/activator.ts';
import { holdRequestsAtZero, releaseLine } from './heldAtZero.ts';

const HELD = 200;

describe('activator: scale from zero', () => {
  let activator: ActivatorProc;
  let queueProxy: QueueProxyProc | undefined;
  let app: SampleApp | undefined;
  const client = new Agent({ connections: HELD + 10 });

  beforeAll(async () => {
    activator = await startActivator();
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await queueProxy?.stop();
    await app?.stop();
  });

  it(`holds ${HELD} requests while the revision has no pod and delivers each exactly once when one answers its probe`, async () => {
    // Nothing ever tells the activator the pod became ready: only its probe can.
    const { ports, answers } = await holdRequestsAtZero(activator, client, 'hello-00001', HELD);

    // The pod's queue-proxy is up but its app is not: the probe fails and everything stays held.
    queueProxy = await startQueueProxyFor(ports);
    // queue-proxy holds an early health check until its app answers, so the probe times out
    // rather than being refused.
    await eventually('the not-ready pod took a probe', () =>
      activator.lines.some((l) => l.message === 'pod not answering its probe yet' && l.failure !== 'ECONNREFUSED'),
    );
    expect(await heldRequests(activator, 'hello-00001')).toBe(HELD);

    app = await startSampleApp({ PORT: String(ports.appPort) });
    const results = await answers;

    expect(results.map((r) => r.status)).toEqual(Array(HELD).fill(200));
    const paths = results.map((r) => (JSON.parse(r.body) as { path: string }).path);
    expect(new Set(paths).size).toBe(HELD);
    expect((await appStats(app)).requests).toBe(HELD);

    // Causality: the release was the probe's doing, and at that moment every request was still held.
    const release = releaseLine(activator);
    expect(release).toMatchObject({ revision: 'default/hello-00001', pod: ports.address, waiting: HELD });
    expect(await heldRequests(activator, 'hello-00001')).toBe(0);
  });

  it("forwards with the original Host and marks the request as the activator's", async () => {
    const { status, body } = await send(activator, client, 'hello-00001', '/headers');
    expect(status).toBe(200);
    const headers = (JSON.parse(body) as { headers: Record<string, string> }).headers;
    expect(headers.host).toBe('hello-00001.default.example.com');
    expect(headers['k-proxy-request']).toBe('activator');
    expect(headers['knative-serving-revision']).toBeUndefined();
  });
});
