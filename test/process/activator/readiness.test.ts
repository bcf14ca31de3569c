// A pod whose readiness probe starts failing after startup (Knative's
// TestProbeRuntimeAfterStartup): once its endpoint turns not ready, the activator stops sending
// it new requests and probes it again; queue-proxy's health check, which runs the app's probe,
// keeps failing, so requests wait in the activator instead of reaching the pod.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import {
  appStats,
  eventually,
  heldRequests,
  putRevision,
  reservePodPorts,
  send,
  startActivator,
  startQueueProxyFor,
  type ActivatorProc,
} from '../../../harness/activator.ts';

const HOOK_TIMEOUT_MS = 60_000;
const REVISION = 'ready-00001';

describe('activator: a pod whose readiness starts failing', () => {
  let activator: ActivatorProc | undefined;
  let app: SampleApp | undefined;
  let queueProxy: QueueProxyProc | undefined;
  let address = '';
  const client = new Agent({ connections: 4 });

  beforeAll(async () => {
    const ports = await reservePodPorts();
    address = ports.address;
    const readinessProbe = { httpGet: { host: '127.0.0.1', port: ports.appPort, path: '/healthz' }, periodSeconds: 1 };
    [activator, app, queueProxy] = await Promise.all([
      startActivator(),
      startSampleApp({ PORT: String(ports.appPort) }),
      startQueueProxyFor(ports, { SERVING_READINESS_PROBE: JSON.stringify(readinessProbe) }),
    ]);
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await client.destroy();
    await activator?.stop();
    await queueProxy?.stop();
    await app?.stop();
  }, HOOK_TIMEOUT_MS);

  it('gets no new requests once its endpoint turns not ready', async () => {
    await putRevision(activator!, REVISION, { containerConcurrency: 0, pods: [address] });
    await eventually('the pod answered its probe', () =>
      activator!.lines.some((l) => l.message === 'pod answered its probe; releasing held requests'),
    );
    expect((await send(activator!, client, REVISION, '/before')).status).toBe(200);

    await request(`http://127.0.0.1:${app!.port}/_probes/fail`, { method: 'POST' }).then((res) => res.body.dump());
    // What the endpoints controller reports once kubelet's probe of queue-proxy has failed.
    await putRevision(activator!, REVISION, { containerConcurrency: 0, pods: [address], notReady: [address] });
    const served = (await appStats(app!)).requests;

    const held = request(`http://127.0.0.1:${activator!.port}/after`, {
      dispatcher: client,
      signal: AbortSignal.timeout(1500),
      headers: { 'knative-serving-revision': REVISION, 'knative-serving-namespace': 'default' },
    });
    await eventually('the request is held', async () => (await heldRequests(activator!, REVISION)) === 1);
    await expect(held).rejects.toThrow();
    expect((await appStats(app!)).requests).toBe(served);
    expect(activator!.lines.filter((l) => l.message === 'pod turned not ready; probing it again')).toHaveLength(1);
  });
});
