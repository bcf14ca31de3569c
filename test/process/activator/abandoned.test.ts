// Requests that end early leave nothing behind in the activator: a client that leaves while its
// request is held, and a request that times out while the pod is answering it.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appStats,
  eventually,
  heldRequests,
  putRevision,
  reservePodPorts,
  send,
  startActivator,
  startPod,
  type ActivatorProc,
  type Pod,
} from '../../../harness/activator.ts';

async function activeRequests(activator: ActivatorProc, revision: string): Promise<number> {
  const text = await (await request(`http://127.0.0.1:${activator.metricsPort}/metrics`)).body.text();
  const match = new RegExp(
    `^kn_revision_request_active\\{[^}]*kn_revision_name="${revision}"[^}]*\\} (\\d+)`,
    'm',
  ).exec(text);
  if (!match) throw new Error(`no kn_revision_request_active for ${revision}`);
  return Number(match[1]);
}

describe('activator: requests that end early', () => {
  let activator: ActivatorProc;
  const pods: Pod[] = [];
  const client = new Agent({ connections: 16 });

  beforeAll(async () => {
    activator = await startActivator();
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await Promise.all(pods.map((pod) => pod.stop()));
  });

  it('withdraws a held request whose client leaves, so the pod never receives it', async () => {
    const ports = await reservePodPorts();
    await putRevision(activator, 'left-00001', { containerConcurrency: 0, pods: [ports.address] });
    const leaving = new AbortController();
    const abandoned = request(`http://127.0.0.1:${activator.port}/abandoned`, {
      dispatcher: client,
      signal: leaving.signal,
      headers: {
        host: 'left-00001.default.example.com',
        'knative-serving-revision': 'left-00001',
        'knative-serving-namespace': 'default',
      },
    }).catch((error: Error) => error);
    await eventually('the request is held', async () => (await heldRequests(activator, 'left-00001')) === 1);
    leaving.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    await eventually('the held request is withdrawn', async () => (await heldRequests(activator, 'left-00001')) === 0);

    const pod = await startPod(ports);
    pods.push(pod);
    expect(await send(activator, client, 'left-00001', '/stayed')).toMatchObject({ status: 200 });
    const stats = await appStats(pod.app);
    // Only the request whose client stayed reached the app.
    expect(stats.requests).toBe(1);
  });

  it('times out a request the pod is still answering with 504, and counts it active no more', async () => {
    const pod = await startPod();
    pods.push(pod);
    await putRevision(activator, 'slow-00001', { containerConcurrency: 1, timeoutSeconds: 1, pods: [pod.address] });
    const timedOut = await send(activator, client, 'slow-00001', '/slow?sleep=3000');
    expect(timedOut.status).toBe(504);
    expect(await activeRequests(activator, 'slow-00001')).toBe(0);
    // The pod's single slot is free again: the next request is served, not held behind it.
    await eventually('the app finished the abandoned request', async () => (await appStats(pod.app)).inFlight === 0);
    expect(await send(activator, client, 'slow-00001', '/quick')).toMatchObject({ status: 200 });
    expect(await activeRequests(activator, 'slow-00001')).toBe(0);
  });
});
