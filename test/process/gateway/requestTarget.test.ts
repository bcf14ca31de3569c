// Requests that name two authorities, or none a proxy can serve, sent byte by byte through a real
// gateway and queue-proxy: each is routed and forwarded by one authority, or answered 400.
import { connect as connectH2 } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { lastJsonBody, rawRequest } from '../../support/rawHttp.ts';
import { ingress, split, startGateway, type Echo, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'hello.default.example.com';

describe('one authority per request', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;
  let gateway: GatewayProc | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port);
    gateway = await startGateway({
      ingresses: [ingress('hello', [{ hosts: [HOST], paths: [{ splits: [split('hello-00001', 100)] }] }])],
      backends: [{ name: 'hello-00001', addresses: [`127.0.0.1:${app.port}`] }],
    });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await gateway?.stop();
    await qp?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it("routes and forwards an absolute-form request by the target's authority, not Host", async () => {
    const routed = await rawRequest(
      gateway!.externalPort,
      `GET http://${HOST}/x?y HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
    );
    expect(routed.statuses).toEqual([200]);
    const echo = lastJsonBody<Echo>(routed);
    expect(echo.path).toBe('/x?y');
    expect(echo.headers.host).toBe(HOST);

    // The route Host would pick is not where the target points, so nothing serves it.
    const elsewhere = await rawRequest(
      gateway!.externalPort,
      `GET http://evil.example/ HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    );
    expect(elsewhere.statuses).toEqual([404]);
  });

  it('answers 400 to two Host headers and to OPTIONS *, at the gateway and at queue-proxy', async () => {
    const twoHosts = `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`;
    const asterisk = `OPTIONS * HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
    for (const port of [gateway!.externalPort, qp!.servingPort]) {
      expect((await rawRequest(port, twoHosts)).statuses, `two Host headers on ${port}`).toEqual([400]);
      expect((await rawRequest(port, asterisk)).statuses, `OPTIONS * on ${port}`).toEqual([400]);
    }
  });

  it('keeps the Host the app sees when Connection names it, at the gateway and at queue-proxy', async () => {
    for (const port of [gateway!.externalPort, qp!.servingPort]) {
      const answer = await rawRequest(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close, host\r\n\r\n`);
      expect(answer.statuses).toEqual([200]);
      expect(lastJsonBody<Echo>(answer).headers.host, `through ${port}`).toBe(HOST);
    }
  });

  it('answers 400 to an HTTP/2 request whose :authority and Host differ', async () => {
    const session = connectH2(`http://127.0.0.1:${gateway!.externalPort}`);
    try {
      const status = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':path': '/', ...headers });
          stream.on('response', (head) => resolve(Number(head[':status'])));
          stream.on('error', reject);
          stream.resume();
        });
      expect(await status({ ':authority': HOST, host: 'evil.example' })).toBe(400);
      expect(await status({ ':authority': HOST })).toBe(200);
    } finally {
      session.close();
    }
  });
});
