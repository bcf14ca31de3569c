// Graceful shutdown of a real queue-proxy process under load: SIGTERM fails readiness, every
// accepted request (in the app or queued) is answered, then the process exits on its own.
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startQueueProxy,
  startSampleApp,
  waitForLine,
  type QueueProxyProc,
  type SampleApp,
} from '../../../harness/processes.ts';

describe('drain on SIGTERM', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;
  const client = new Agent({ connections: 32 });

  afterEach(async () => {
    await qp?.stop();
    await app?.stop();
  });

  async function call(
    port: number,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: string }> {
    const res = await request(`http://127.0.0.1:${port}${path}`, { headers, dispatcher: client });
    return { status: res.statusCode, body: await res.body.text() };
  }

  async function untilAppBusy(count: number): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const stats = JSON.parse((await call(app!.port, '/_stats')).body) as { inFlight: number };
      if (stats.inFlight >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`the app never had ${count} requests in flight`);
  }

  it('loses no accepted request, fails readiness, and exits after draining', async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '2', QUEUE_DRAIN_QUIET_PERIOD: '300ms' });
    const port = qp.servingPort;
    // 2 in the app, 8 queued behind them; each takes 200ms, so the last finishes about 1s in.
    const load = Array.from({ length: 10 }, (_, i) => call(port, `/load/${i}?sleep=200`));
    await untilAppBusy(2);
    qp.child.kill('SIGTERM');
    await waitForLine(qp, (l) => l.message === 'draining');

    expect(await call(port, '/', { 'user-agent': 'kube-probe/1.34', 'k-network-probe': 'queue' })).toEqual({
      status: 503,
      body: 'shutting down',
    });
    // Traffic still routed here during the quiet period is served.
    const late = await call(port, '/late');
    expect(late.status).toBe(200);

    const answers = await Promise.all(load);
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(await qp.exited).toBe(0);
    expect(qp.lines.some((l) => l.message === 'drained')).toBe(true);
  });

  it("holds /wait-for-drain (the app's preStop hook) until draining is complete", async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { QUEUE_DRAIN_QUIET_PERIOD: '300ms' });
    const inApp = call(qp.servingPort, '/slow?sleep=200');
    await untilAppBusy(1);
    const preStop = call(qp.adminPort, '/wait-for-drain');
    qp.child.kill('SIGTERM');
    expect(await preStop).toEqual({ status: 200, body: '' });
    expect((await inApp).status).toBe(200);
    expect(await qp.exited).toBe(0);
  });
});
