// An endpoint that refuses connections, beside a healthy one that is busy, through a real gateway:
// the refusing one, which never has a request in flight, must not attract the traffic. It is
// ejected after it refuses, and a request it refused (a POST with a body too: nothing was sent)
// goes to the healthy endpoint.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import { ingress, split, startGateway, type Echo, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'dead.default.example.com';
const POSTS = 20;

describe('gateway: a dead endpoint beside a busy one', () => {
  let app: SampleApp | undefined;
  let gateway: GatewayProc | undefined;
  let pool: Pool | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    const refusing = await freePort();
    gateway = await startGateway({
      ingresses: [ingress('dead', [{ hosts: [HOST], paths: [{ splits: [split('dead-00001', 100)] }] }])],
      backends: [{ name: 'dead-00001', addresses: [`127.0.0.1:${refusing}`, `127.0.0.1:${app.port}`] }],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 4 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it('sends every POST to the healthy endpoint and ejects the refusing one', async () => {
    // Keeps the healthy endpoint busy, so least-loaded picking alone would prefer the dead one.
    const busy = pool!.request({ path: '/?sleep=3000', method: 'GET', headers: { host: HOST } });
    const statuses: number[] = [];
    const bodyLengths: number[] = [];
    for (let i = 0; i < POSTS; i++) {
      const res = await pool!.request({
        path: `/post/${i}`,
        method: 'POST',
        headers: { host: HOST, 'content-type': 'text/plain' },
        body: `payload ${i}`,
      });
      statuses.push(res.statusCode);
      const text = await res.body.text();
      if (res.statusCode === 200) bodyLengths.push((JSON.parse(text) as Echo).bodyLength);
    }
    expect(statuses).toEqual(Array(POSTS).fill(200));
    // Each body arrived whole, although its first try met a refused connection.
    expect(bodyLengths).toEqual(Array.from({ length: POSTS }, (_, i) => `payload ${i}`.length));
    expect(gateway!.lines.some((line) => line.message === 'endpoint ejected')).toBe(true);
    // Ejected at once, the dead endpoint was tried by far fewer requests than were sent.
    const refusedTries = gateway!.lines.filter((line) => line.message === 'endpoint ejected').length;
    expect(refusedTries).toBeLessThan(POSTS / 2);
    await (await busy).body.dump();
  });
});
