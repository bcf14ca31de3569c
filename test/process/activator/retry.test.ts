// A pod that dies is found out by a refused connection: the request goes to another pod, and
// the dead pod gets no more traffic until it answers a probe again.
import { Agent, request } from 'undici';
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
} from '../../../harness/activator.ts';

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
      () => activator.lines.filter((l) => l.message === 'pod answered its probe; releasing held requests').length === 2,
    );
    // The dead pod's queue-proxy goes away before any request: nothing is in flight to it, and
    // the activator holds no connection to it except its probe's, which closes with it.
    dying.queueProxy.child.kill('SIGKILL');
    await dying.queueProxy.exited;

    const results = [];
    for (let i = 0; i < 10; i++) results.push(await send(activator, client, 'retry-00001', `/after-death/${i}`));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await appStats(living.app)).requests).toBe(10);
    expect(activator.lines.filter((l) => l.message === 'pod refused a connection; probing it again')).toHaveLength(1);
  });

  it('sends a POST whose pod refused the connection to another pod, body and all', async () => {
    const more = await Promise.all([startPod(), startPod()]);
    pods.push(...more);
    const [dying, living] = [...more].sort((a, b) => (a.address < b.address ? -1 : 1)) as [Pod, Pod];
    await putRevision(activator, 'post-00001', { containerConcurrency: 1, pods: [dying.address, living.address] });
    await eventually(
      'both pods answered their probes',
      () =>
        activator.lines.filter(
          (l) => l.message === 'pod answered its probe; releasing held requests' && l.revision === 'default/post-00001',
        ).length === 2,
    );
    dying.queueProxy.child.kill('SIGKILL');
    await dying.queueProxy.exited;

    const res = await request(`http://127.0.0.1:${activator.port}/post`, {
      dispatcher: client,
      method: 'POST',
      headers: {
        host: 'post-00001.default.example.com',
        'knative-serving-revision': 'post-00001',
        'knative-serving-namespace': 'default',
      },
      body: 'a body that was never sent to the dead pod',
    });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { bodyLength: number }).bodyLength).toBe(
      'a body that was never sent to the dead pod'.length,
    );
  });
});
