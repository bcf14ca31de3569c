// containerConcurrency enforced by a real queue-proxy: the app never sees more than cc
// requests at once, and a full queue is refused with Knative's 503.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';

describe('containerConcurrency', () => {
  let app: SampleApp;
  let qp: QueueProxyProc;
  // Enough connections that every request reaches queue-proxy at once.
  const client = new Agent({ connections: 64 });

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await client.close();
    await qp?.stop();
    await app?.stop();
  });

  async function appStats(): Promise<{ inFlight: number; maxInFlight: number; requests: number }> {
    const res = await request(`http://127.0.0.1:${app.port}/_stats`, { dispatcher: client });
    return (await res.body.json()) as { inFlight: number; maxInFlight: number; requests: number };
  }

  async function untilAppInFlight(count: number): Promise<void> {
    for (let attempt = 0; attempt < 400; attempt++) {
      if ((await appStats()).inFlight === count) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`the app never had exactly ${count} requests in flight`);
  }

  it('never lets two requests into the app at once with containerConcurrency 1', async () => {
    await request(`http://127.0.0.1:${app.port}/_stats/reset`, { method: 'POST', dispatcher: client }).then((r) =>
      r.body.dump(),
    );
    const statuses = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const res = await request(`http://127.0.0.1:${qp.servingPort}/work/${i}?sleep=20`, { dispatcher: client });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    expect(statuses).toEqual(Array(10).fill(200));
    const stats = await appStats();
    expect(stats.requests).toBe(10);
    expect(stats.maxInFlight).toBe(1);
  });

  it("gives the slot back and cancels the app's request when the client leaves", async () => {
    const leaving = new AbortController();
    const abandoned = request(`http://127.0.0.1:${qp.servingPort}/abandoned?hang=1`, {
      dispatcher: client,
      signal: leaving.signal,
    }).catch((error: Error) => error.name);
    await untilAppInFlight(1);
    leaving.abort();
    expect(await abandoned).toBe('AbortError');
    // With containerConcurrency 1 this only passes if the abandoned request released its slot.
    const next = await request(`http://127.0.0.1:${qp.servingPort}/next`, { dispatcher: client });
    await next.body.dump();
    expect(next.statusCode).toBe(200);
    await untilAppInFlight(0);
  });

  it('refuses requests beyond the queue (10 × cc) with 503 and a message', async () => {
    // 1 in the app + 10 queued are accepted; the other 4 are refused at once.
    const answers = await Promise.all(
      Array.from({ length: 15 }, async (_, i) => {
        const res = await request(`http://127.0.0.1:${qp.servingPort}/burst/${i}?sleep=200`, { dispatcher: client });
        return { status: res.statusCode, body: await res.body.text() };
      }),
    );
    const refused = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(11);
    expect(refused).toHaveLength(4);
    expect(refused.every((a) => a.body === 'pending request queue full')).toBe(true);
    expect((await appStats()).maxInFlight).toBe(1);
  });
});
