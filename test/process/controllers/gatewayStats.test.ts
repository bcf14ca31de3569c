// The canary analysis' reader of the gateway's GET /revisions/stats, against a real gateway
// process: figures by revision for the namespace asked, and a clear failure when the endpoint
// answers with an error or with something else than the report.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayStatsReader } from '../../../controllers/route/gatewayStats.ts';
import { startSampleApp, type SampleApp } from '../../../harness/processes.ts';
import { get, ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;

describe('gatewayStatsReader', () => {
  let app: SampleApp;
  let gateway: GatewayProc;
  let pool: Pool;
  let broken: Server;

  beforeAll(async () => {
    app = await startSampleApp({ APP_FAIL_EVERY: '2' });
    gateway = await startGateway({
      ingresses: [
        ingress('app', [{ hosts: ['app.default.example.com'], paths: [{ splits: [split('app-00001', 100)] }] }]),
      ],
      backends: [{ name: 'app-00001', addresses: [`127.0.0.1:${app.port}`] }],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`);
    // Answers /bad with a 503 and anything else with JSON that is no report.
    broken = createServer((req, res) =>
      req.url?.startsWith('/bad') ? res.writeHead(503).end('draining') : res.end('{"revisions":"none"}'),
    );
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await app?.stop();
    await new Promise((resolve) => broken?.close(resolve));
  });

  it("reads each revision's figures of one namespace from a gateway", async () => {
    for (let i = 0; i < 10; i++) await get(pool, 'app.default.example.com');
    const read = gatewayStatsReader(`http://127.0.0.1:${gateway.adminPort}/revisions/stats`);
    const figures = await read('default', 30_000);
    expect([...figures.keys()]).toEqual(['app-00001']);
    expect(figures.get('app-00001')).toMatchObject({ requests: 10, errors: 5 });
    expect((await read('elsewhere', 30_000)).size).toBe(0);
  });

  it('fails on an error answer or a body that is no report', async () => {
    const port = (broken.address() as AddressInfo).port;
    await expect(gatewayStatsReader(`http://127.0.0.1:${port}/bad`)('default', 30_000)).rejects.toThrow(
      /\/bad\?window=30s&namespace=default answered 503: draining/,
    );
    await expect(gatewayStatsReader(`http://127.0.0.1:${port}/good`)('default', 30_000)).rejects.toThrow();
  });
});
