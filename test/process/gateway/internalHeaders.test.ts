// Internal headers a client sends through a real gateway: the gateway is the trust boundary, so
// none of them reaches the hops behind it, and a client cannot hide its load from the autoscaler
// by claiming to be the activator (gateway → queue-proxy → app, read from queue-proxy's metrics).
import { Agent, Pool, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { get, ingress, split, startGateway, type Echo, type GatewayProc } from '../../../harness/gateway.ts';

const HOOK_TIMEOUT_MS = 60_000;
const HOST = 'hello.default.example.com';
const BARE_HOST = 'bare.default.example.com';
const IN_FLIGHT = 4;

const CLIENT_SET = {
  'K-Proxy-Request': 'activator',
  'K-Network-Hash': 'forged',
  'K-Original-Host': 'evil.example',
  'Knative-Serving-Revision': 'other-00001',
  'Knative-Serving-Namespace': 'other',
  'K-Kubelet-Probe': 'queue',
};

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`${name} is missing from:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('gateway internal headers', () => {
  let app: SampleApp | undefined;
  let qp: QueueProxyProc | undefined;
  let gateway: GatewayProc | undefined;
  let pool: Pool | undefined;

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port, { QUEUE_REPORTING_PERIOD: '200ms' });
    gateway = await startGateway({
      ingresses: [
        ingress('hello', [{ hosts: [HOST], paths: [{ splits: [split('hello-00001', 100)] }] }]),
        // A split without appendHeaders: nothing of the gateway's replaces what the client sent.
        ingress('bare', [
          {
            hosts: [BARE_HOST],
            paths: [{ splits: [{ serviceNamespace: 'default', serviceName: 'bare', servicePort: 80, percent: 100 }] }],
          },
        ]),
      ],
      backends: [
        { name: 'hello-00001', addresses: [`127.0.0.1:${qp.servingPort}`] },
        { name: 'bare', addresses: [`127.0.0.1:${app.port}`] },
      ],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: IN_FLIGHT + 2 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await qp?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it('drops every internal header a client sets, on a split that appends none', async () => {
    const answer = await get(pool!, BARE_HOST, '/', CLIENT_SET);
    expect(answer.status).toBe(200);
    const seen = (JSON.parse(answer.text) as Echo).headers;
    for (const name of Object.keys(CLIENT_SET)) expect(seen[name.toLowerCase()], name).toBeUndefined();
  });

  it('replaces the revision headers on a split that appends them', async () => {
    const answer = await get(pool!, HOST, '/', CLIENT_SET);
    expect(answer.status).toBe(200);
    const seen = (JSON.parse(answer.text) as Echo).headers;
    // The gateway's own revision headers reach queue-proxy, which keeps them from the app.
    for (const name of Object.keys(CLIENT_SET)) expect(seen[name.toLowerCase()], name).toBeUndefined();
  });

  it('counts requests claiming K-Proxy-Request: activator as ordinary load at queue-proxy', async () => {
    const load = Array.from({ length: IN_FLIGHT }, () =>
      get(pool!, HOST, '/?sleep=3000', { 'K-Proxy-Request': 'activator' }),
    );
    const metrics = new Agent();
    try {
      // Until a whole reporting period has seen the requests in flight; bounded by count and time.
      let text = '';
      for (let i = 0; i < 100; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const res = await request(`http://127.0.0.1:${qp!.autoscalerMetricsPort}/metrics`, { dispatcher: metrics });
        text = await res.body.text();
        if (gauge(text, 'queue_average_concurrent_requests') >= IN_FLIGHT - 0.5) break;
      }
      expect(gauge(text, 'queue_average_concurrent_requests')).toBeGreaterThanOrEqual(IN_FLIGHT - 0.5);
      expect(gauge(text, 'queue_average_proxied_concurrent_requests')).toBe(0);
    } finally {
      await metrics.close();
    }
    for (const answer of await Promise.all(load)) expect(answer.status).toBe(200);
  });
});
