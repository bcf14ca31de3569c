// The gateway's Kubernetes source against a real API server: a KIngress of our class plus the
// Services and EndpointSlices its splits name become a routing table, and the Ingress is marked
// Ready through its status subresource. The endpoint IPs are pod-like addresses nothing listens
// on; the test only routes against the table and never sends traffic to them.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { realClock } from '../../../lib/clock.ts';
import { PILOTLIGHT_INGRESS_CLASS } from '../../../lib/config/network.ts';
import { createKubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { createLogger } from '../../../lib/log.ts';
import { route, type RouteDecision } from '../../../gateway/routing/index.ts';
import { startKubernetesSource } from '../../../gateway/sources/kubernetes.ts';
import { INGRESS_CLASS_ANNOTATION } from '../../../lib/apis/networking.ts';
import { RoutingSync } from '../../../gateway/sync.ts';
import { contextFor } from '../../../gateway/tls.ts';
import { createNamespace } from '../../support/kube.ts';
import { eventually } from '../lib/wait.ts';
import { makeDomainMappingIngress } from '../../../controllers/domainmapping/resources/ingress.ts';
import { createCertificateAuthority } from '../../../lib/pki.ts';

const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));
const log = createLogger('gateway-test');
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function service(namespace: string, name: string, portName: string) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name },
    spec: { ports: [{ name: portName, port: 80, targetPort: 8012 }] },
  };
}

function endpointSlice(
  namespace: string,
  service: string,
  portName: string,
  endpoints: Array<{ ip: string; ready: boolean }>,
) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name: `${service}-abcde`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: portName, port: 8012, protocol: 'TCP' }],
    endpoints: endpoints.map(({ ip, ready }) => ({ addresses: [ip], conditions: { ready } })),
  };
}

function kingress(namespace: string, name: string, ingressClass: string) {
  const split = (revision: string, percent: number) => ({
    serviceNamespace: namespace,
    serviceName: revision,
    servicePort: 80,
    percent,
    appendHeaders: { 'Knative-Serving-Revision': revision, 'Knative-Serving-Namespace': namespace },
  });
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { namespace, name, annotations: { [INGRESS_CLASS_ANNOTATION]: ingressClass } },
    spec: {
      httpOption: 'Enabled',
      rules: [
        {
          hosts: [`${name}.${namespace}.example.com`],
          visibility: 'ExternalIP',
          http: { paths: [{ splits: [split(`${name}-00001`, 90), split(`${name}-00002`, 10)] }] },
        },
        {
          hosts: [`${name}.${namespace}.svc.cluster.local`],
          visibility: 'ClusterLocal',
          http: { paths: [{ splits: [split(`${name}-00001`, 90), split(`${name}-00002`, 10)] }] },
        },
      ],
    },
  };
}

interface IngressObject {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; message?: string }>;
    publicLoadBalancer?: { ingress: Array<{ domainInternal: string }> };
    privateLoadBalancer?: { ingress: Array<{ domainInternal: string }> };
  };
}

const post = (path: string, body: object) => api.request('POST', path, { body });

async function startSource(namespace: string, defaultCertificate?: string): Promise<RoutingSync> {
  const kubernetes = await startKubernetesSource(
    {
      defaultCertificate,
      kubeconfig: inject('kubeconfig'),
      // Other tests' KIngresses are not this gateway's to mark.
      watchNamespace: namespace,
      publicAddress: 'gateway.pilotlight-system.svc.cluster.local',
      privateAddress: 'gateway-internal.pilotlight-system.svc.cluster.local',
      leaseNamespace: namespace,
      leaseName: 'pilotlight-gateway',
      identity: 'gateway-test',
    },
    log,
    realClock,
  );
  const sync = new RoutingSync({
    source: kubernetes.source,
    debounceMs: 20,
    clusterDomain: 'cluster.local',
    ...(defaultCertificate ? { defaultCertificate } : {}),
    log,
    onSwap: kubernetes.onSwap,
  });
  stops.push(kubernetes.stop, () => sync.stop());
  await sync.start();
  return sync;
}

const routeTo = (sync: RoutingSync, host: string, listener: 'external' | 'internal' = 'external'): RouteDecision =>
  route(sync.live.table, { listener, host, path: '/', headers: {} });

describe('gateway Kubernetes source', () => {
  it('builds the table from a KIngress, Services and EndpointSlices, follows endpoint changes and marks the Ingress Ready', async () => {
    const ns = await createNamespace('gateway-src');
    await post(`/api/v1/namespaces/${ns}/services`, service(ns, 'hello-00001', 'http'));
    await post(`/api/v1/namespaces/${ns}/services`, service(ns, 'hello-00002', 'http2'));
    await post(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      endpointSlice(ns, 'hello-00001', 'http', [
        { ip: '10.244.0.11', ready: true },
        { ip: '10.244.0.12', ready: false },
      ]),
    );
    // Scaled to zero: the revision's ServerlessService is in Proxy mode and its endpoints are the activator's.
    await post(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      endpointSlice(ns, 'hello-00002', 'http2', [{ ip: '10.244.0.99', ready: true }]),
    );
    await post(`/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/serverlessservices`, {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'ServerlessService',
      metadata: { namespace: ns, name: 'hello-00002' },
      spec: {
        mode: 'Proxy',
        protocolType: 'http1',
        objectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello-00002-deployment' },
      },
    });
    await post(
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`,
      kingress(ns, 'hello', PILOTLIGHT_INGRESS_CLASS),
    );
    await post(
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`,
      kingress(ns, 'other', 'istio.ingress.networking.knative.dev'),
    );

    const sync = await startSource(ns);
    const host = `hello.${ns}.example.com`;
    await eventually(() => routeTo(sync, host).kind === 'forward', 'the KIngress in the table');

    // One window of 100 through the 90/10 split, routed against the table only.
    const seen = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const decision = routeTo(sync, host);
      if (decision.kind !== 'forward') throw new Error(`expected a forward decision, got ${JSON.stringify(decision)}`);
      const key = `${decision.service.name} ${decision.mode} ${decision.protocol} ${decision.upstream.address}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(seen)).toEqual({
      'hello-00001 serve http1 10.244.0.11:8012': 90,
      'hello-00002 proxy h2c 10.244.0.99:8012': 10,
    });
    expect(routeTo(sync, `hello.${ns}.svc.cluster.local`, 'internal').kind).toBe('forward');
    expect(routeTo(sync, `hello.${ns}`, 'internal').kind).toBe('forward');
    expect(routeTo(sync, `other.${ns}.example.com`)).toMatchObject({ kind: 'reject', status: 404 });

    await eventually(async () => {
      const ingress = await api.request<IngressObject>(
        'GET',
        `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses/hello`,
      );
      return ingress.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    }, 'the KIngress marked Ready');
    const ready = await api.request<IngressObject>(
      'GET',
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses/hello`,
    );
    expect(ready.status).toMatchObject({
      observedGeneration: ready.metadata.generation,
      publicLoadBalancer: { ingress: [{ domainInternal: 'gateway.pilotlight-system.svc.cluster.local' }] },
      privateLoadBalancer: { ingress: [{ domainInternal: 'gateway-internal.pilotlight-system.svc.cluster.local' }] },
    });
    expect(Object.fromEntries(ready.status!.conditions!.map((c) => [c.type, c.status]))).toEqual({
      LoadBalancerReady: 'True',
      NetworkConfigured: 'True',
      Ready: 'True',
    });
    const other = await api.request<IngressObject>(
      'GET',
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses/other`,
    );
    expect(other.status?.conditions).toBeUndefined();

    // The second pod becomes ready: the table follows the EndpointSlice.
    await api.request('PUT', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/hello-00001-abcde`, {
      body: endpointSlice(ns, 'hello-00001', 'http', [
        { ip: '10.244.0.11', ready: true },
        { ip: '10.244.0.12', ready: true },
      ]),
    });
    await eventually(() => sync.live.table.upstreams.has('10.244.0.12:8012'), 'the new endpoint in the table');

    // A pod whose readiness probe starts failing turns not ready: it gets no new requests.
    await api.request('PUT', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/hello-00001-abcde`, {
      body: endpointSlice(ns, 'hello-00001', 'http', [
        { ip: '10.244.0.11', ready: false },
        { ip: '10.244.0.12', ready: true },
      ]),
    });
    await eventually(
      () => !sync.live.table.upstreams.has('10.244.0.11:8012'),
      'the endpoint that turned not ready out of the table',
    );
    for (let i = 0; i < 20; i++) {
      const decision = routeTo(sync, host);
      if (decision.kind === 'forward' && decision.service.name === 'hello-00001')
        expect(decision.upstream.address).toBe('10.244.0.12:8012');
    }
  });

  it("routes a DomainMapping's KIngress as its rewritten host and marks it Ready once that host is served", async () => {
    const ns = await createNamespace('gateway-dm');
    const domain = `${ns}.example.org`;
    const mapping = makeDomainMappingIngress(
      {
        apiVersion: 'serving.knative.dev/v1beta1',
        kind: 'DomainMapping',
        metadata: { name: domain, namespace: ns, uid: 'dm-uid' },
        spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello', namespace: ns } },
      },
      {
        target: { host: `hello.${ns}.svc.cluster.local`, service: 'hello' },
        ingressClass: PILOTLIGHT_INGRESS_CLASS,
        httpOption: 'Enabled',
        tls: [],
      },
    );
    // The owner is not stored, so the API server must not look for it.
    await post(`/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`, {
      ...mapping,
      metadata: { ...mapping.metadata, ownerReferences: [] },
    });
    const sync = await startSource(ns);
    const ingressPath = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses/${domain}`;
    await eventually(async () => {
      const ingress = await api.request<IngressObject>('GET', ingressPath);
      return ingress.status?.conditions?.find((c) => c.type === 'LoadBalancerReady')?.status === 'Unknown';
    }, 'LoadBalancerReady Unknown while the rewritten host is not served');

    for (const [revision, ip] of [
      ['hello-00001', '10.244.0.11'],
      ['hello-00002', '10.244.0.12'],
    ] as const) {
      await post(`/api/v1/namespaces/${ns}/services`, service(ns, revision, 'http'));
      await post(
        `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        endpointSlice(ns, revision, 'http', [{ ip, ready: true }]),
      );
    }
    await post(
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`,
      kingress(ns, 'hello', PILOTLIGHT_INGRESS_CLASS),
    );
    await eventually(async () => {
      const ingress = await api.request<IngressObject>('GET', ingressPath);
      return ingress.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    }, 'the DomainMapping KIngress marked Ready');
    const decision = routeTo(sync, domain);
    expect(decision).toMatchObject({
      kind: 'forward',
      rewriteHost: `hello.${ns}.svc.cluster.local`,
      service: { name: expect.stringMatching(/^hello-0000[12]$/) },
    });
  });

  it('keeps an Ingress not Ready while a split names a Service that does not exist', async () => {
    const ns = await createNamespace('gateway-src');
    await post(
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`,
      kingress(ns, 'hello', PILOTLIGHT_INGRESS_CLASS),
    );
    const sync = await startSource(ns);
    await eventually(async () => {
      const ingress = await api.request<IngressObject>(
        'GET',
        `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses/hello`,
      );
      return ingress.status?.conditions?.find((c) => c.type === 'LoadBalancerReady')?.status === 'Unknown';
    }, 'LoadBalancerReady Unknown');
    expect(routeTo(sync, `hello.${ns}.example.com`)).toMatchObject({
      kind: 'reject',
      status: 503,
      reason: 'backend-unknown',
    });
  });

  it('keeps routing an updated KIngress to its previous backend until the new backend has a ready EndpointSlice', async () => {
    const ns = await createNamespace('gateway-warm');
    const slices = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
    const ingressPath = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`;
    // No other Ingress names the previous backend once the update is in: only warming asks for its state.
    const to = (revision: string) => {
      const ingress = kingress(ns, 'hello', PILOTLIGHT_INGRESS_CLASS);
      for (const rule of ingress.spec.rules)
        rule.http.paths[0]!.splits = [{ ...rule.http.paths[0]!.splits[0]!, serviceName: revision, percent: 100 }];
      return ingress;
    };
    await post(`/api/v1/namespaces/${ns}/services`, service(ns, 'old', 'http'));
    await post(slices, endpointSlice(ns, 'old', 'http', [{ ip: '10.244.0.21', ready: true }]));
    await post(ingressPath, to('old'));
    const sync = await startSource(ns);
    const host = `hello.${ns}.example.com`;
    await eventually(() => routeTo(sync, host).kind === 'forward', 'the KIngress in the table');

    await post(`/api/v1/namespaces/${ns}/services`, service(ns, 'new', 'http'));
    const current = await api.request<{ metadata: object }>('GET', `${ingressPath}/hello`);
    await api.request('PUT', `${ingressPath}/hello`, { body: { ...to('new'), metadata: current.metadata } });
    await eventually(
      () => sync.live.snapshot.ingresses[0]?.spec?.rules?.[0]?.http?.paths[0]?.splits[0]?.serviceName === 'new',
      'the update in a rebuilt table',
    );
    expect(routeTo(sync, host)).toMatchObject({ kind: 'forward', service: { name: 'old' } });

    await post(slices, endpointSlice(ns, 'new', 'http', [{ ip: '10.244.0.22', ready: true }]));
    await eventually(() => {
      const decision = routeTo(sync, host);
      return decision.kind === 'forward' && decision.service.name === 'new';
    }, 'the new backend serving once its EndpointSlice is ready');
  });

  it("names, in a KIngress's status, the TLS Secret or certificate that cannot serve its hosts, and serves the others", async () => {
    const ns = await createNamespace('gateway-src');
    for (const name of ['good', 'bad']) {
      for (const [revision, port] of [
        [`${name}-00001`, 'http'],
        [`${name}-00002`, 'http2'],
      ] as const) {
        await post(`/api/v1/namespaces/${ns}/services`, service(ns, revision, port));
        await post(
          `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
          endpointSlice(ns, revision, port, [{ ip: '10.244.0.11', ready: true }]),
        );
      }
      const ingress = kingress(ns, name, PILOTLIGHT_INGRESS_CLASS);
      const tls = [{ hosts: [`${name}.${ns}.example.com`], secretName: `${name}-tls`, secretNamespace: ns }];
      await post(`/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`, {
        ...ingress,
        spec: { ...ingress.spec, tls },
      });
    }
    const ca = await createCertificateAuthority('gateway source test CA', 1);
    const issue = (dnsNames: string[], validDays = 1) =>
      ca.issue({ commonName: dnsNames[0]!, dnsNames, usage: 'server', validDays });
    const putSecret = async (name: string, pair: { certificate: string; privateKey: string }) => {
      const body = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { namespace: ns, name },
        data: {
          'tls.crt': Buffer.from(pair.certificate).toString('base64'),
          'tls.key': Buffer.from(pair.privateKey).toString('base64'),
        },
      };
      await api
        .request('PUT', `/api/v1/namespaces/${ns}/secrets/${name}`, { body })
        .catch(() => post(`/api/v1/namespaces/${ns}/secrets`, body));
    };
    await putSecret('good-tls', await issue([`good.${ns}.example.com`]));

    const sync = await startSource(ns);
    const loadBalancer = async (name: string) => {
      const ingress = await api.request<IngressObject>(
        'GET',
        `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses/${name}`,
      );
      return ingress.status?.conditions?.find((c) => c.type === 'LoadBalancerReady');
    };
    const saysOfBad = async (pattern: RegExp) => {
      await eventually(async () => pattern.test((await loadBalancer('bad'))?.message ?? ''), `bad says ${pattern}`);
      expect(await loadBalancer('bad')).toMatchObject({ status: 'Unknown' });
      // The other Ingress is Ready and keeps its certificate whatever happens to this one's.
      expect(await loadBalancer('good')).toMatchObject({ status: 'True' });
      expect(sync.live.tls.contexts.external.has(`good.${ns}.example.com`)).toBe(true);
      expect(sync.live.tls.contexts.external.has(`bad.${ns}.example.com`)).toBe(false);
    };

    await saysOfBad(new RegExp(`^Secret ${ns}/bad-tls not found`));
    await putSecret('bad-tls', { certificate: 'not a certificate', privateKey: 'not a key' });
    await saysOfBad(new RegExp(`^Secret ${ns}/bad-tls does not load: `));
    await putSecret('bad-tls', await issue([`someone-else.${ns}.example.com`]));
    await saysOfBad(
      new RegExp(`^host bad.${ns}.example.com: the certificate of Secret ${ns}/bad-tls does not name it$`),
    );
    // pki's certificates start an hour back: under 1/24 of a day is already expired.
    await putSecret('bad-tls', await issue([`bad.${ns}.example.com`], 1 / 48));
    await saysOfBad(new RegExp(`^host bad.${ns}.example.com: the certificate of Secret ${ns}/bad-tls expired at `));
    await putSecret('bad-tls', await issue([`bad.${ns}.example.com`]));
    await eventually(async () => (await loadBalancer('bad'))?.status === 'True', 'bad Ready once its Secret is good');
    expect(sync.live.tls.contexts.external.has(`bad.${ns}.example.com`)).toBe(true);
  });

  it('serves public hosts without spec.tls with the default certificate, and follows its Secret', async () => {
    const ns = await createNamespace('gateway-default-tls');
    for (const [revision, port] of [
      ['plain-00001', 'http'],
      ['plain-00002', 'http2'],
    ] as const) {
      await post(`/api/v1/namespaces/${ns}/services`, service(ns, revision, port));
      await post(
        `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        endpointSlice(ns, revision, port, [{ ip: '10.244.0.11', ready: true }]),
      );
    }
    await post(
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`,
      kingress(ns, 'plain', PILOTLIGHT_INGRESS_CLASS),
    );
    const ca = await createCertificateAuthority('gateway default certificate test CA', 1);
    const wildcard = async () => {
      const pair = await ca.issue({ commonName: 'wildcard', dnsNames: [`*.${ns}.example.com`], usage: 'server' });
      return {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { namespace: ns, name: 'wildcard' },
        data: {
          'tls.crt': Buffer.from(pair.certificate).toString('base64'),
          'tls.key': Buffer.from(pair.privateKey).toString('base64'),
        },
      };
    };
    const sync = await startSource(ns, `${ns}/wildcard`);
    const host = `plain.${ns}.example.com`;
    expect(contextFor(sync.live.tls, 'external', host)).toBeUndefined();
    await post(`/api/v1/namespaces/${ns}/secrets`, await wildcard());
    await eventually(async () => contextFor(sync.live.tls, 'external', host) !== undefined, 'the default certificate');
    const first = contextFor(sync.live.tls, 'external', host);
    expect(contextFor(sync.live.tls, 'external', 'plain.elsewhere.example.org')).toBeUndefined();
    await api.request('PUT', `/api/v1/namespaces/${ns}/secrets/wildcard`, { body: await wildcard() });
    await eventually(
      async () => ![undefined, first].includes(contextFor(sync.live.tls, 'external', host)),
      'the rotated default certificate',
    );
  });
});
