// The activator stat endpoint on a loopback socket: what it accepts, what it refuses.
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatServer, listenStatServer, statUrl } from '../../../autoscaler/collector/statServer.ts';
import type { Stat } from '../../../autoscaler/metrics/revisionMetrics.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function start(options: { known?: string[]; leading?: boolean; leaderUrl?: () => string | undefined } = {}) {
  const pushed: { key: string; stat: Stat }[] = [];
  const server = createStatServer({
    receiver: {
      push: (key, stat) => {
        pushed.push({ key, stat });
        return (options.known ?? []).includes(key);
      },
    },
    leading: () => options.leading ?? true,
    leaderUrl: options.leaderUrl,
  });
  servers.push(server);
  const port = await listenStatServer(server, 0, '127.0.0.1');
  const url = statUrl('127.0.0.1', port);
  const post = (body: string, path = '/stats') =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { pushed, post, url };
}

const oneStat = JSON.stringify([{ namespace: 'ns', revision: 'a-00001', stat: { averageConcurrentRequests: 3 } }]);

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

  it('refuses stats while no leader is known, and anything but POST /stats', async () => {
    const { pushed, post } = await start({ leading: false, leaderUrl: () => undefined });
    expect((await post('[]')).status).toBe(503);
    expect((await post('[]', '/other')).status).toBe(404);
    expect(pushed).toEqual([]);
  });

  it('forwards what a replica that does not lead is sent to the leader, which records it', async () => {
    const leader = await start({ known: ['ns/a-00001'] });
    const follower = await start({ leading: false, leaderUrl: () => leader.url });
    const response = await follower.post(oneStat);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1 });
    expect(follower.pushed).toEqual([]);
    expect(leader.pushed.map((p) => [p.key, p.stat.averageConcurrentRequests])).toEqual([['ns/a-00001', 3]]);
  });

  // Two replicas that each believe the other leads (a stale view of the Lease) must not loop.
  it('forwards once only: a forwarded body reaching a replica that does not lead is refused', async () => {
    const urls: { a?: string; b?: string } = {};
    const a = await start({ leading: false, leaderUrl: () => urls.b });
    const b = await start({ leading: false, leaderUrl: () => urls.a });
    urls.a = a.url;
    urls.b = b.url;
    expect((await a.post(oneStat)).status).toBe(503);
    expect([...a.pushed, ...b.pushed]).toEqual([]);
  });

  it('answers 503 when the leader it forwards to does not answer', async () => {
    const gone = await start();
    const goneUrl = gone.url;
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const follower = await start({ leading: false, leaderUrl: () => goneUrl });
    expect((await follower.post(oneStat)).status).toBe(503);
  });
});
