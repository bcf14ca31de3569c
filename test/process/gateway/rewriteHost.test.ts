// A DomainMapping's KIngress through a real gateway process: its path's rewriteHost sends the
// request where the rewritten (cluster-local) host goes, with that Host upstream, as Knative's
// ingresses do; its own split names a Service the gateway does not know, which must not matter.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingressHash, type Ingress } from '../../../gateway/routing/index.ts';
import { freePort, startSampleApp, waitForLine, type SampleApp } from '../../../harness/processes.ts';
import {
  get,
  ingress,
  revisionOf,
  split,
  startGateway,
  type Echo,
  type GatewayProc,
} from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const LOCAL_HOST = 'hello.default.svc.cluster.local';
const DOMAIN = 'app.example.org';

const domainMappingIngress = (name: string, rewriteHost: string) =>
  ingress(name, [
    {
      hosts: [name],
      paths: [
        {
          rewriteHost,
          splits: [
            {
              serviceNamespace: 'default',
              serviceName: 'hello',
              servicePort: 80,
              percent: 100,
              appendHeaders: { 'K-Original-Host': name },
            },
          ],
        },
      ],
    },
  ]);

describe('gateway rewriteHost', () => {
  const apps: SampleApp[] = [];
  let gateway: GatewayProc;
  let external: Pool;
  let mapping: object;

  beforeAll(async () => {
    apps.push(...(await Promise.all([startSampleApp(), startSampleApp()])));
    const [first, second] = apps.map((app) => `127.0.0.1:${app.port}`);
    const refusedPort = await freePort();
    mapping = domainMappingIngress(DOMAIN, LOCAL_HOST);
    gateway = await startGateway({
      ingresses: [
        ingress('hello', [
          { hosts: ['hello.default.example.com'], paths: [{ splits: [split('hello-00001', 100)] }] },
          {
            hosts: [LOCAL_HOST],
            visibility: 'ClusterLocal',
            paths: [{ splits: [split('hello-00001', 50), split('hello-00002', 50)] }],
          },
        ]),
        mapping,
        domainMappingIngress('nowhere.example.org', 'gone.default.svc.cluster.local'),
        ingress('flaky', [
          {
            hosts: ['flaky.default.svc.cluster.local'],
            visibility: 'ClusterLocal',
            paths: [{ splits: [split('flaky-00001', 100)] }],
          },
        ]),
        domainMappingIngress('flaky.example.org', 'flaky.default.svc.cluster.local'),
      ],
      backends: [
        { name: 'hello-00001', addresses: [first!] },
        { name: 'hello-00002', addresses: [second!] },
        // One endpoint refuses connections: requests without a body are retried on the other.
        { name: 'flaky-00001', addresses: [`127.0.0.1:${refusedPort}`, first!] },
      ],
    });
    external = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 2 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await external?.close();
    await gateway?.stop();
    await Promise.all(apps.map((app) => app?.stop()));
  }, HOOK_TIMEOUT_MS);

  it("routes the mapped domain by the rewritten host's split, sending that Host and the original one upstream", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(external, DOMAIN, '/x?y=1')));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const echoes = answers.map((a) => JSON.parse(a.text) as Echo);
    for (const echo of echoes) {
      expect(echo.path).toBe('/x?y=1');
      expect(echo.headers).toMatchObject({
        host: LOCAL_HOST,
        'k-original-host': DOMAIN,
        'knative-serving-namespace': 'default',
      });
    }
    // The rewritten host's 50/50 split holds exactly over its window of requests.
    const revisions = answers.map((a) => revisionOf(a.text));
    expect(revisions.filter((r) => r === 'hello-00001')).toHaveLength(10);
    expect(revisions.filter((r) => r === 'hello-00002')).toHaveLength(10);
  });

  it("answers the probe for the mapped domain with the DomainMapping Ingress's own hash", async () => {
    const answer = await get(external, DOMAIN, '/healthz', {
      'K-Network-Probe': 'probe',
      'K-Network-Hash': 'override',
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['k-network-hash']).toBe(ingressHash(mapping as Ingress));
  });

  it("retries a refused connection on another endpoint of the rewritten host's split", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(external, 'flaky.example.org')));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.map((a) => (JSON.parse(a.text) as Echo).headers.host)).toEqual(
      Array(20).fill('flaky.default.svc.cluster.local'),
    );
  });

  it('answers 503 when the rewritten host is served by no Ingress', async () => {
    const answer = await get(external, 'nowhere.example.org');
    expect(answer.status).toBe(503);
    expect(answer.text).toBe(`service unavailable\nrequest id: ${answer.headers['x-request-id']}\n`);
    const logged = await waitForLine(gateway, (line) => line.requestId === answer.headers['x-request-id']);
    expect(logged).toMatchObject({ message: 'request refused', reason: 'unserved-rewrite-host' });
    expect(logged.detail).toMatch(/rewritten host gone.default.svc.cluster.local is not served/);
  });
});
