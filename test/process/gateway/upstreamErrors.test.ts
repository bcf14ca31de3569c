// An upstream that drops the connection without answering: the client gets a 502 that says so,
// the gateway logs which upstream failed and how, and the route keeps serving.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, waitForLine, type SampleApp } from '../../../harness/processes.ts';
import { get, ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'hello.default.example.com';

describe('gateway upstream failures', () => {
  let app: SampleApp | undefined;
  let gateway: GatewayProc | undefined;
  let pool: Pool | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    gateway = await startGateway({
      ingresses: [ingress('hello', [{ hosts: [HOST], paths: [{ splits: [split('hello-00001', 100)] }] }])],
      backends: [{ name: 'hello-00001', addresses: [`127.0.0.1:${app.port}`] }],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 2 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it('answers 502 to a request whose upstream connection closes, logs the upstream and the error, and serves the next one', async () => {
    const failed = await get(pool!, HOST, '/?reset=1');
    expect(failed.status).toBe(502);
    // The client learns nothing of the upstream's address or the error, only an id to quote.
    const requestId = failed.headers['x-request-id'];
    expect(failed.text).toBe(`bad gateway\nrequest id: ${requestId}\n`);
    // The log line is written as the exchange ends; the client may read its 502 a moment earlier.
    await waitForLine(gateway!, (line) => line.message === 'upstream failed', 5000);
    const logged = gateway!.lines.filter((line) => line.message === 'upstream failed');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      severity: 'warn',
      namespace: 'default',
      service: 'hello-00001',
      upstream: `127.0.0.1:${app!.port}`,
      attempts: 1,
      responseStarted: false,
      requestId,
    });
    expect(logged[0]!.error).toEqual(expect.any(String));
    expect((await get(pool!, HOST, '/')).status).toBe(200);
  });
});
