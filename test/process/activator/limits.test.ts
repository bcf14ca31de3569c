// containerConcurrency across pods, a full hold queue, a hold that outlasts the revision's
// timeout, unknown revisions and the activator's own probes, against a real activator process.
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
import { waitForLine } from '../../../harness/processes.ts';

const QUEUE_DEPTH = 5;

describe('activator: limits and probes', () => {
  let activator: ActivatorProc;
  const pods: Pod[] = [];
  const client = new Agent({ connections: 64 });

  beforeAll(async () => {
    activator = await startActivator(['--queue-depth', String(QUEUE_DEPTH)]);
  });
  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await Promise.all(pods.map((pod) => pod.stop()));
  });

  it('never lets a pod have two requests at once with containerConcurrency 1, and uses both pods', async () => {
    pods.push(await startPod(), await startPod());
    await putRevision(activator, 'serial-00001', { containerConcurrency: 1, pods: pods.map((p) => p.address) });
    await eventually(
      'both pods answered their probes',
      () =>
        activator.lines.filter(
          (l) =>
            l.message === 'pod answered its probe; releasing held requests' && l.revision === 'default/serial-00001',
        ).length === 2,
    );
    // More requests than pods × cc + queue depth would be refused, so stay within it: 2 + 5.
    const results = await Promise.all(
      Array.from({ length: 7 }, (_, i) => send(activator, client, 'serial-00001', `/serial/${i}?sleep=30`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(7).fill(200));
    const stats = await Promise.all(pods.map((pod) => appStats(pod.app)));
    expect(stats.map((s) => s.maxInFlight)).toEqual([1, 1]);
    expect(stats[0]!.requests + stats[1]!.requests).toBe(7);
    expect(stats.every((s) => s.requests > 0)).toBe(true);
  });

  it('refuses requests beyond the hold queue with 503 and a message, and times out the held ones with 504', async () => {
    const ports = await reservePodPorts();
    await putRevision(activator, 'cold-00001', { containerConcurrency: 0, timeoutSeconds: 1, pods: [ports.address] });
    const held = Array.from({ length: QUEUE_DEPTH }, (_, i) => send(activator, client, 'cold-00001', `/held/${i}`));
    await eventually('the queue is full', async () => (await heldRequests(activator, 'cold-00001')) === QUEUE_DEPTH);
    const refused = await Promise.all(
      Array.from({ length: 3 }, (_, i) => send(activator, client, 'cold-00001', `/refused/${i}`)),
    );
    expect(refused).toEqual(Array(3).fill({ status: 503, body: 'pending request queue full' }));
    expect(await Promise.all(held)).toEqual(Array(QUEUE_DEPTH).fill({ status: 504, body: 'request timeout' }));
  });

  it('answers 404 for a revision it does not know, and for a request naming none, naming neither', async () => {
    const unknown = await send(activator, client, 'nobody-00001', '/');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatch(/^not found\nrequest id: \S+\n$/);
    const unknownId = unknown.body.split('request id: ')[1]!.trim();
    const res = await request(`http://127.0.0.1:${activator.port}/`, { dispatcher: client });
    expect(res.statusCode).toBe(404);
    const requestId = res.headers['x-request-id'];
    expect(await res.body.text()).toBe(`not found\nrequest id: ${requestId}\n`);
    // The details are in the log, under the ids the clients were given.
    const refusals = await waitForLine(
      activator,
      () => activator.lines.filter((line) => line.message === 'request refused').length >= 2,
    ).then(() => activator.lines.filter((line) => line.message === 'request refused'));
    expect(refusals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ requestId: unknownId, detail: 'revision default/nobody-00001 not found' }),
        expect.objectContaining({
          requestId,
          detail: 'missing Knative-Serving-Revision or Knative-Serving-Namespace header',
        }),
      ]),
    );
  });

  it('answers network probes itself, echoing the probe hash', async () => {
    const res = await request(`http://127.0.0.1:${activator.port}/healthz`, {
      dispatcher: client,
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc123' },
    });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(res.headers['k-network-hash']).toBe('abc123');
    const self = await request(`http://127.0.0.1:${activator.port}/`, {
      dispatcher: client,
      headers: { 'k-network-probe': 'activator' },
    });
    expect(await self.body.text()).toBe('activator');
  });
});
