// A pod that dies is found out by a refused connection: the request goes to another pod, and
// the dead pod gets no more traffic until it answers a probe again.
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appStats,
  eventually,
  putRevision,
  send,
  startActivator,
  startPod,
  type ActivatorProc,
  type Pod,
} from './harness.ts';

describe('activator: retry on a refused connection', () => {
  let activator: ActivatorProc;
  let pods: Pod[] = [];
  const client = new Agent({ connections: 4 });

  beforeAll(async () => {
    activator = await startActivator();
    pods = await Promise.all([startPod(), startPod()]);
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await Promise.all(pods.map((pod) => pod.stop()));
  });

  it('sends requests that met a dead pod to the live one', async () => {
    // cc 1: first-available always tries the lower address first, so the dead pod cannot be skipped by luck.
    const [dying, living] = [...pods].sort((a, b) => (a.address < b.address ? -1 : 1)) as [Pod, Pod];
    await putRevision(activator, 'retry-00001', { containerConcurrency: 1, pods: [dying.address, living.address] });
    await eventually(
      'both pods answered their probes',
      () => activator.lines.filter((l) => l.msg === 'pod answered its probe; releasing held requests').length === 2,
    );
    // The dead pod's queue-proxy goes away before any request: nothing is in flight to it, and
    // the activator holds no connection to it except its probe's, which closes with it.
    dying.queueProxy.child.kill('SIGKILL');
    await dying.queueProxy.exited;

    const results = [];
    for (let i = 0; i < 10; i++) results.push(await send(activator, client, 'retry-00001', `/after-death/${i}`));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await appStats(living.app)).requests).toBe(10);
    expect(activator.lines.filter((l) => l.msg === 'pod refused a connection; probing it again')).toHaveLength(1);
  });
});
