// Revisions that speak h2c (a container port named h2c): the gateway sends to their public port
// in h2c, to the activator's h2c port in Proxy mode or to queue-proxy in Serve mode, and every hop
// passes HTTP/2 on, so the request reaches the app as HTTP/2 (Knative's TestProtocols); HTTP/1
// revisions keep HTTP/1.1 end to end. The app here speaks h2c with prior knowledge only.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { readStreamed } from '../../support/streamed.ts';
import { get, ingress, split, startGateway, type Echo, type GatewayProc } from '../../../harness/gateway.ts';
import {
  eventually,
  putRevision,
  reservePodPorts,
  startActivator,
  startQueueProxyFor,
  type ActivatorProc,
} from '../../../harness/activator.ts';

const HOOK_TIMEOUT_MS = 60_000;

describe('h2c revisions through the gateway and the activator', () => {
  let activator: ActivatorProc | undefined;
  const apps: SampleApp[] = [];
  const queueProxies: QueueProxyProc[] = [];
  let gateway: GatewayProc | undefined;
  let pool: Pool | undefined;

  async function startPodOf(protocol: 'h2c' | 'http1'): Promise<string> {
    const ports = await reservePodPorts();
    apps.push(await startSampleApp({ PORT: String(ports.appPort), APP_PROTOCOL: protocol }));
    queueProxies.push(await startQueueProxyFor(ports));
    return ports.address;
  }

  beforeAll(async () => {
    activator = await startActivator();
    const [h2cPod, http1Pod] = await Promise.all([startPodOf('h2c'), startPodOf('http1')]);
    await putRevision(activator, 'proxied-h2c-00001', { containerConcurrency: 0, pods: [h2cPod] });
    await putRevision(activator, 'proxied-http1-00001', { containerConcurrency: 0, pods: [http1Pod] });
    await eventually(
      'both pods answered their probes',
      () =>
        activator!.lines.filter((l) => l.message === 'pod answered its probe; releasing held requests').length === 2,
    );
    const route = (name: string, port: number) =>
      ingress(name, [
        {
          hosts: [`${name}.default.example.com`],
          paths: [{ splits: [{ ...split(`${name}-00001`, 100), servicePort: port }] }],
        },
      ]);
    gateway = await startGateway({
      ingresses: [route('proxied-h2c', 81), route('proxied-http1', 80), route('served-h2c', 81)],
      backends: [
        { name: 'proxied-h2c-00001', port: 81, protocol: 'h2c', addresses: [`127.0.0.1:${activator.h2cPort}`] },
        { name: 'proxied-http1-00001', port: 80, protocol: 'http1', addresses: [`127.0.0.1:${activator.port}`] },
        { name: 'served-h2c-00001', port: 81, protocol: 'h2c', addresses: [h2cPod] },
      ],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`, { connections: 2 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await pool?.close();
    await gateway?.stop();
    await activator?.stop();
    await Promise.all(queueProxies.map((qp) => qp.stop()));
    await Promise.all(apps.map((app) => app.stop()));
  }, HOOK_TIMEOUT_MS);

  it.each([
    { name: 'proxied-h2c', httpVersion: '2.0' },
    { name: 'served-h2c', httpVersion: '2.0' },
    { name: 'proxied-http1', httpVersion: '1.1' },
  ])('$name reaches the app over HTTP/$httpVersion from an HTTP/1.1 client', async ({ name, httpVersion }) => {
    const answer = await get(pool!, `${name}.default.example.com`, '/protocol');
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.text) as Echo).httpVersion).toBe(httpVersion);
  });

  it('streams an h2c response through every hop as it is written', async () => {
    const streamed = await readStreamed(`http://127.0.0.1:${gateway!.externalPort}/?stream=1000`, {
      dispatcher: pool!,
      headers: { host: 'proxied-h2c.default.example.com' },
    });
    expect(streamed).toMatchObject({ status: 200, body: 'first\nlast\n' });
    expect(streamed.chunks[0]!.atMs).toBeLessThan(700);
    expect(streamed.endAtMs).toBeGreaterThanOrEqual(900);
  });
});
