// A gateway told to stop keeps serving through its quiet period, while its load balancer drops it,
// but moves kept-alive clients off: each response closes its connection, so the client's next
// request opens a new one, which the load balancer sends to a replica that is not going away.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';
import { startSampleApp, waitForLine, type SampleApp } from '../../../harness/processes.ts';

const HOST = 'drain.default.example.com';

describe('gateway drain', () => {
  let app: SampleApp;
  let gateway: GatewayProc;
  let pool: Pool;
  const connections: string[] = [];

  beforeAll(async () => {
    app = await startSampleApp();
    gateway = await startGateway(
      {
        ingresses: [ingress('drain', [{ hosts: [HOST], paths: [{ splits: [split('drain-00001', 100)] }] }])],
        backends: [{ name: 'drain-00001', addresses: [`127.0.0.1:${app.port}`] }],
      },
      // Long enough for the requests below, short enough to end the test soon.
      ['--drain-quiet-period=3s'],
    );
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 1 });
    pool.on('connect', () => connections.push('connect'));
    pool.on('disconnect', () => connections.push('disconnect'));
  }, 60_000);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await app?.stop();
  });

  it('closes each connection after its response during the quiet period, and still serves', async () => {
    const kept = await get(pool, HOST);
    expect(kept.status).toBe(200);
    expect(kept.headers.connection).not.toBe('close');
    expect(connections).toEqual(['connect']);

    gateway.child.kill('SIGTERM');
    // The quiet period starts with the signal; the gateway logs nothing until it ends, so ask until a
    // response says close, bounded well inside the 3 s quiet period.
    let answer = await get(pool, HOST);
    for (let i = 0; i < 50 && answer.headers.connection !== 'close'; i++) answer = await get(pool, HOST);
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('close');
    // The next request needs a connection of its own, and is served on it.
    const next = await get(pool, HOST);
    expect(next.status).toBe(200);
    expect(next.headers.connection).toBe('close');
    expect(connections.filter((c) => c === 'connect').length).toBeGreaterThanOrEqual(2);
    expect(connections).toContain('disconnect');

    await waitForLine(gateway, (line) => line.message === 'gateway drained');
    expect(await gateway.exited).toBe(0);
  });
});
