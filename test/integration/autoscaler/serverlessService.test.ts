// The ServerlessService reconciler against the real API server: the private and public
// Services it creates, and the public Endpoints it points at the activators (Proxy, or no pod
// ready) or at the pods (Serve). No endpoints controller runs here, so the test writes the
// private Service's and the activator's Endpoints the way one would.
import { afterEach, describe, expect, it } from 'vitest';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from '../lib/wait.ts';
import { api, createDeployment, startServerlessServiceProcess } from './support.ts';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

type Json = Record<string, any>;
const sksPath = (ns: string, name = '') =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/serverlessservices${name ? `/${name}` : ''}`;
const get = (path: string) => api.request<Json>('GET', path);
const getOrUndefined = async (path: string) => {
  try {
    return await get(path);
  } catch {
    return undefined;
  }
};
const ips = (endpoints: Json | undefined): string[] =>
  (endpoints?.subsets ?? []).flatMap((s: Json) => (s.addresses ?? []).map((a: Json) => a.ip)).sort();
const condition = (sks: Json, type: string): Json | undefined =>
  sks.status?.conditions?.find((c: Json) => c.type === type);

const ACTIVATORS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const PODS = ['10.1.0.1', '10.1.0.2'];

async function putEndpoints(
  ns: string,
  name: string,
  labels: Record<string, string>,
  addresses: string[],
  ports: Json[],
): Promise<void> {
  await api.request('POST', `/api/v1/namespaces/${ns}/endpoints`, {
    body: {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, labels },
      subsets: [{ addresses: addresses.map((ip) => ({ ip })), ports }],
    },
  });
}

describe('ServerlessService reconciler against the real API server', () => {
  it('creates the private and public Services and switches the public Endpoints between activators and pods', async () => {
    const ns = await createNamespace('sks');
    const revision = 'web-00001';
    await createDeployment(ns, revision, 1);
    // The test namespace doubles as the system namespace that holds the activator.
    await putEndpoints(ns, 'activator-service', {}, ACTIVATORS, [
      { name: 'http', port: 8012, protocol: 'TCP' },
      { name: 'http2', port: 8013, protocol: 'TCP' },
      { name: 'https', port: 8112, protocol: 'TCP' },
    ]);
    const running = startServerlessServiceProcess(ns);
    stops.push(() => running.stop());
    await running.whenSynced();

    await api.request('POST', sksPath(ns), {
      body: {
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'ServerlessService',
        metadata: { name: revision, labels: { 'serving.knative.dev/revision': revision } },
        spec: {
          mode: 'Serve',
          numActivators: 2,
          protocolType: 'http1',
          objectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `${revision}-deployment` },
        },
      },
    });

    // No pod is ready yet: the activators stand in even though Serve was asked for.
    let sks: Json = {};
    await eventually(async () => {
      sks = await get(sksPath(ns, revision));
      return sks.status?.observedGeneration === sks.metadata.generation && sks.status?.serviceName === revision;
    }, 'the SKS status');
    expect(sks.status).toMatchObject({ serviceName: revision, privateServiceName: `${revision}-private` });
    expect(condition(sks, 'EndpointsPopulated')).toMatchObject({ status: 'Unknown', reason: 'NoHealthyBackends' });
    expect(condition(sks, 'ActivatorEndpointsPopulated')).toMatchObject({ status: 'True', severity: 'Info' });

    const privateService = await get(`/api/v1/namespaces/${ns}/services/${revision}-private`);
    expect(privateService.metadata.labels).toMatchObject({
      'networking.internal.knative.dev/serverlessservice': revision,
      'networking.internal.knative.dev/serviceType': 'Private',
    });
    expect(privateService.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ServerlessService', name: revision, controller: true }),
    ]);
    expect(privateService.spec.selector).toEqual({ 'serving.knative.dev/revision': revision });
    expect(privateService.spec.ports.map((p: Json) => [p.name, p.port, p.targetPort])).toEqual([
      ['http', 80, 8012],
      ['https', 443, 8112],
      ['http-autometric', 9090, 'http-autometric'],
      ['http-usermetric', 9091, 'http-usermetric'],
      ['http-istio', 8012, 8012],
    ]);
    const publicService = await get(`/api/v1/namespaces/${ns}/services/${revision}`);
    expect(publicService.spec.selector).toBeUndefined();
    expect(publicService.spec.ports.map((p: Json) => [p.name, p.port, p.targetPort])).toEqual([
      ['http', 80, 8012],
      ['https', 443, 8112],
    ]);

    const publicEndpoints = await get(`/api/v1/namespaces/${ns}/endpoints/${revision}`);
    expect(ips(publicEndpoints)).toHaveLength(2);
    expect(ACTIVATORS).toEqual(expect.arrayContaining(ips(publicEndpoints)));
    // Only the port the public Service targets, and TLS.
    expect(publicEndpoints.subsets[0].ports.map((p: Json) => p.port).sort()).toEqual([8012, 8112]);

    // Pods become ready (as the endpoints controller would report them): Serve takes effect.
    await putEndpoints(ns, `${revision}-private`, privateService.metadata.labels, PODS, [
      { name: 'http', port: 8012, protocol: 'TCP' },
      { name: 'http-autometric', port: 9090, protocol: 'TCP' },
    ]);
    await eventually(
      async () =>
        JSON.stringify(ips(await getOrUndefined(`/api/v1/namespaces/${ns}/endpoints/${revision}`))) ===
        JSON.stringify(PODS),
      'the pods in the public endpoints',
    );
    await eventually(
      async () => condition(await get(sksPath(ns, revision)), 'Ready')?.status === 'True',
      'the SKS to be Ready',
    );
    sks = await get(sksPath(ns, revision));
    expect(condition(sks, 'EndpointsPopulated')?.status).toBe('True');
    expect(condition(sks, 'ActivatorEndpointsPopulated')?.status).toBe('False');
    expect(
      (await get(`/api/v1/namespaces/${ns}/endpoints/${revision}`)).subsets[0].ports.map((p: Json) => p.port),
    ).toEqual([8012]);

    // Proxy puts the same two activators back in the path.
    await api.request('PATCH', sksPath(ns, revision), {
      body: { spec: { mode: 'Proxy' } },
      contentType: 'application/merge-patch+json',
    });
    await eventually(
      async () =>
        ips(await get(`/api/v1/namespaces/${ns}/endpoints/${revision}`)).every((ip) => ACTIVATORS.includes(ip)),
      'the activators back in the public endpoints',
    );
    expect(ips(await get(`/api/v1/namespaces/${ns}/endpoints/${revision}`))).toEqual(ips(publicEndpoints));
    await eventually(
      async () => condition(await get(sksPath(ns, revision)), 'ActivatorEndpointsPopulated')?.status === 'True',
      'the SKS to report the activators',
    );
  });
});

describe('ServerlessService reconciler for an h2c revision', () => {
  // The KIngress sends h2c revisions to the public Service's port 81; the gateway finds its
  // endpoints by the port's name and speaks h2c to them, to the activators' 8013 in Proxy mode and
  // to queue-proxy's 8013 in Serve mode.
  it('exposes http2 81 → 8013 and keeps port 8013, named http2, of the activators and of the pods', async () => {
    const ns = await createNamespace('sks-h2c');
    const revision = 'grpc-00001';
    await createDeployment(ns, revision, 1);
    await putEndpoints(ns, 'activator-service', {}, ACTIVATORS, [
      { name: 'http', port: 8012, protocol: 'TCP' },
      { name: 'http2', port: 8013, protocol: 'TCP' },
    ]);
    const running = startServerlessServiceProcess(ns);
    stops.push(() => running.stop());
    await running.whenSynced();
    await api.request('POST', sksPath(ns), {
      body: {
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'ServerlessService',
        metadata: { name: revision, labels: { 'serving.knative.dev/revision': revision } },
        spec: {
          mode: 'Proxy',
          numActivators: 2,
          protocolType: 'h2c',
          objectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `${revision}-deployment` },
        },
      },
    });
    const portsOf = (endpoints: Json | undefined) =>
      (endpoints?.subsets?.[0]?.ports ?? []).map((p: Json) => [p.name, p.port]);
    await eventually(
      async () =>
        JSON.stringify(portsOf(await getOrUndefined(`/api/v1/namespaces/${ns}/endpoints/${revision}`))) ===
        JSON.stringify([['http2', 8013]]),
      "the activators' h2c port in the public endpoints",
    );
    const publicService = await get(`/api/v1/namespaces/${ns}/services/${revision}`);
    expect(publicService.spec.ports[0]).toMatchObject({
      name: 'http2',
      port: 81,
      targetPort: 8013,
      appProtocol: 'kubernetes.io/h2c',
    });
    const privateService = await get(`/api/v1/namespaces/${ns}/services/${revision}-private`);
    expect(privateService.spec.ports[0]).toMatchObject({
      name: 'http2',
      port: 80,
      targetPort: 8013,
      appProtocol: 'kubernetes.io/h2c',
    });

    await putEndpoints(ns, `${revision}-private`, privateService.metadata.labels, PODS, [
      { name: 'http2', port: 8013, protocol: 'TCP' },
      { name: 'http-autometric', port: 9090, protocol: 'TCP' },
    ]);
    await api.request('PATCH', sksPath(ns, revision), {
      body: { spec: { mode: 'Serve' } },
      contentType: 'application/merge-patch+json',
    });
    await eventually(
      async () =>
        JSON.stringify(ips(await getOrUndefined(`/api/v1/namespaces/${ns}/endpoints/${revision}`))) ===
        JSON.stringify(PODS),
      'the pods in the public endpoints',
    );
    expect(portsOf(await get(`/api/v1/namespaces/${ns}/endpoints/${revision}`))).toEqual([['http2', 8013]]);
  });
});
