// SIGTERM while requests are in flight and held: the activator keeps accepting through its quiet
// period, then answers everything it accepted before it exits.
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { startSampleApp, waitForLine, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import {
  appStats,
  eventually,
  heldRequests,
  putRevision,
  reservePodPorts,
  send,
  startActivator,
  startPod,
  startQueueProxyFor,
  type ActivatorProc,
  type Pod,
} from '../../../harness/activator.ts';

const IN_FLIGHT = 30;
const HELD = 30;
const DURING_QUIET_PERIOD = 10;

describe('activator: drain on SIGTERM', () => {
  let activator: ActivatorProc;
  let warm: Pod | undefined;
  let coldApp: SampleApp | undefined;
  let coldQueueProxy: QueueProxyProc | undefined;
  const client = new Agent({ connections: 128 });

  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await warm?.stop();
    await coldQueueProxy?.stop();
    await coldApp?.stop();
  });

  it('loses no accepted request, in flight or held, and exits cleanly', async () => {
    // Long enough that requests sent after the 'draining' line surely land inside it.
    activator = await startActivator(['--drain-quiet-period', '3s']);
    warm = await startPod();
    await putRevision(activator, 'warm-00001', { containerConcurrency: 0, pods: [warm.address] });
    const coldPorts = await reservePodPorts();
    await putRevision(activator, 'cold-00001', { containerConcurrency: 0, pods: [coldPorts.address] });
    await eventually('the warm pod answered its probe', () =>
      activator.lines.some(
        (l) => l.message === 'pod answered its probe; releasing held requests' && l.revision === 'default/warm-00001',
      ),
    );

    const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) =>
      send(activator, client, 'warm-00001', `/slow/${i}?sleep=500`),
    );
    const held = Array.from({ length: HELD }, (_, i) => send(activator, client, 'cold-00001', `/held/${i}`));
    await eventually('the warm app has every request', async () => (await appStats(warm!.app)).inFlight === IN_FLIGHT);
    await eventually('every cold request is held', async () => (await heldRequests(activator, 'cold-00001')) === HELD);

    // The chart's readiness probe: the kubelet's GET on the serving port, which turns 503 at
    // SIGTERM so the endpoints drop the activator while it still accepts.
    const kubeletProbe = async () => {
      const res = await request(`http://127.0.0.1:${activator.port}/`, {
        dispatcher: client,
        headers: { 'user-agent': 'kube-probe/1.35' },
      });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await kubeletProbe()).toBe(200);

    activator.child.kill('SIGTERM');
    await waitForLine(activator, (l) => l.message === 'draining');
    expect(await kubeletProbe()).toBe(503);
    const duringQuietPeriod = Array.from({ length: DURING_QUIET_PERIOD }, (_, i) =>
      send(activator, client, 'warm-00001', `/late/${i}`),
    );
    // The cold revision's pod only comes up after SIGTERM: its held requests must still be served.
    coldQueueProxy = await startQueueProxyFor(coldPorts);
    coldApp = await startSampleApp({ PORT: String(coldPorts.appPort) });

    const results = await Promise.all([...inFlight, ...held, ...duringQuietPeriod]);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect((await appStats(warm.app)).requests).toBe(IN_FLIGHT + DURING_QUIET_PERIOD);
    expect((await appStats(coldApp)).requests).toBe(HELD);
    expect(await activator.exited).toBe(0);
  });
});
