// The activator stat endpoint on a loopback socket: what it accepts, what it refuses.
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatServer, listenStatServer } from '../../../autoscaler/collector/statServer.ts';
import type { Stat } from '../../../autoscaler/metrics/revisionMetrics.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function start(options: { known?: string[]; leading?: boolean } = {}) {
  const pushed: { key: string; stat: Stat }[] = [];
  server = createStatServer({
    receiver: {
      push: (key, stat) => {
        pushed.push({ key, stat });
        return (options.known ?? []).includes(key);
      },
    },
    accepting: () => options.leading ?? true,
  });
  const port = await listenStatServer(server, 0, '127.0.0.1');
  const post = (body: string, path = '/stats') =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { pushed, post };
}

describe('stat server', () => {
  it('hands each stat to the receiver and counts those for known revisions', async () => {
    const { pushed, post } = await start({ known: ['ns/a-00001'] });
    const response = await post(
      JSON.stringify([
        {
          namespace: 'ns',
          revision: 'a-00001',
          stat: { podName: 'activator-1', averageConcurrentRequests: 1, requestCount: 1 },
        },
        { namespace: 'ns', revision: 'gone-00001', stat: { averageConcurrentRequests: 2 } },
      ]),
    );
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1 });
    expect(pushed).toEqual([
      {
        key: 'ns/a-00001',
        stat: {
          podName: 'activator-1',
          averageConcurrentRequests: 1,
          averageProxiedConcurrentRequests: 0,
          requestCount: 1,
          proxiedRequestCount: 0,
        },
      },
      {
        key: 'ns/gone-00001',
        stat: {
          averageConcurrentRequests: 2,
          averageProxiedConcurrentRequests: 0,
          requestCount: 0,
          proxiedRequestCount: 0,
        },
      },
    ]);
  });

  it('refuses malformed bodies and negative loads', async () => {
    const { pushed, post } = await start();
    expect((await post('{not json')).status).toBe(400);
    expect(
      (await post(JSON.stringify([{ namespace: 'ns', revision: 'a', stat: { averageConcurrentRequests: -1 } }])))
        .status,
    ).toBe(400);
    expect((await post(JSON.stringify({ namespace: 'ns' }))).status).toBe(400);
    expect(pushed).toEqual([]);
  });

  it('refuses stats while another replica leads, and anything but POST /stats', async () => {
    const { pushed, post } = await start({ leading: false });
    expect((await post('[]')).status).toBe(503);
    expect((await post('[]', '/other')).status).toBe(404);
    expect(pushed).toEqual([]);
  });
});
