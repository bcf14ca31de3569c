// external-domain-tls and cluster-local-domain-tls on a Route, reconciled in process against the
// real API server: its Knative Certificates, their Secrets (pilotlight's certificate class issuing
// them where the test runs it), the KIngress's tls, CertificateProvisioned and https URLs.
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  condition,
  FakeDataPlane,
  get,
  getOrUndefined,
  ingressesPath,
  isReadyNow,
  ksvc,
  list,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

type Json = Record<string, any>;

const cleanups = cleanupsAfterEach();

const certificatesPath = (ns: string, name = '') =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/certificates${name ? `/${name}` : ''}`;

async function setUp(prefix: string, network: Record<string, string>, options: { issuer: boolean }) {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  await putConfigMap(ns, 'config-domain', { 'example.com': '' });
  await putConfigMap(ns, 'config-network', network);
  const reconcilers = await startInProcess(ns, { certificateIssuer: options.issuer });
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(
    () => reconcilers.stop(),
    () => dataPlane.stop(),
  );
  return ns;
}

const routeOf = (ns: string, name: string) => getOrUndefined(serving(ns, 'routes', name));
const certificateCondition = (object: Json) => condition(object, 'CertificateProvisioned');

describe('external-domain-tls', () => {
  it('gives a Route a Certificate per host, serves it over TLS once issued, and says https', async () => {
    const ns = await setUp('tls-ready', { 'external-domain-tls': 'Enabled' }, { issuer: true });
    await mustSucceed(apply(ns, ksvc('hello')));
    const service = await waitFor(
      'ksvc Ready with an https URL',
      () => get(serving(ns, 'services', 'hello')),
      (s) => isReadyNow(s) && s.status.url?.startsWith('https://'),
    );
    const host = `hello.${ns}.example.com`;
    expect(service.status.url).toBe(`https://${host}`);

    const route = await get(serving(ns, 'routes', 'hello'));
    expect(certificateCondition(route)).toMatchObject({ status: 'True' });
    const name = `route-${route.metadata.uid}`;
    const certificate = await get(certificatesPath(ns, name));
    expect(certificate.spec).toEqual({ dnsNames: [host], domain: 'example.com', secretName: name });
    expect(certificate.metadata.labels).toEqual({
      'serving.knative.dev/route': 'hello',
      'networking.knative.dev/certificate-type': 'external-domain',
    });
    expect(certificate.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Route', name: 'hello', uid: route.metadata.uid, controller: true }),
    ]);
    const secret = await get(`/api/v1/namespaces/${ns}/secrets/${name}`);
    expect(secret.type).toBe('kubernetes.io/tls');

    const ingress = await waitFor(
      'KIngress with tls',
      () => get(ingressesPath(ns, 'hello')),
      (i) => (i.spec.tls?.length ?? 0) > 0,
    );
    expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: name, secretNamespace: ns }]);
  });

  it('keeps http while the Certificate is not ready (HTTPDowngrade), and a tag gets its own, deleted with the tag', async () => {
    // No certificate class runs: the Certificates stay unready.
    const ns = await setUp('tls-pending', { 'external-domain-tls': 'Enabled' }, { issuer: false });
    await mustSucceed(apply(ns, ksvc('hello')));
    const route = await waitFor(
      'Route Ready with HTTPDowngrade',
      () => routeOf(ns, 'hello'),
      (r) => isReadyNow(r) && certificateCondition(r)?.reason === 'HTTPDowngrade',
    );
    const name = `route-${route.metadata.uid}`;
    expect(certificateCondition(route)?.message).toBe(`Certificate ${name} is not ready downgrade HTTP.`);
    expect(route.status.url).toBe(`http://hello.${ns}.example.com`);
    expect((await get(ingressesPath(ns, 'hello'))).spec.tls).toBeUndefined();

    const tagged = ksvc('hello', undefined, {
      traffic: [
        { latestRevision: true, percent: 100 },
        { latestRevision: true, percent: 0, tag: 'beta' },
      ],
    });
    await mustSucceed(apply(ns, tagged));
    const tagHost = `beta-hello.${ns}.example.com`;
    const both = await waitFor(
      'two Certificates',
      () => list(certificatesPath(ns)),
      (c) => c.length === 2,
    );
    expect(both.map((c: Json) => c.spec.dnsNames).sort()).toEqual([[tagHost], [`hello.${ns}.example.com`]]);
    const withTag = await waitFor(
      'tag URL in the Route status',
      () => routeOf(ns, 'hello'),
      (r) => r.status.traffic?.some((t: Json) => t.tag === 'beta'),
    );
    expect(withTag.status.traffic.find((t: Json) => t.tag === 'beta').url).toBe(`http://${tagHost}`);

    await mustSucceed(apply(ns, ksvc('hello')));
    const left = await waitFor(
      'the tag Certificate deleted',
      () => list(certificatesPath(ns)),
      (c) => c.length === 1,
    );
    expect(left.map((c: Json) => c.metadata.name)).toEqual([name]);
  });

  it('under http-protocol Redirected, waits for the Certificate: CertificateNotReady, https URL, not Ready', async () => {
    const ns = await setUp(
      'tls-redirect',
      { 'external-domain-tls': 'Enabled', 'http-protocol': 'Redirected' },
      { issuer: false },
    );
    await mustSucceed(apply(ns, ksvc('hello')));
    const route = await waitFor(
      'Route waiting for its Certificate',
      () => routeOf(ns, 'hello'),
      (r) => certificateCondition(r)?.reason === 'CertificateNotReady',
    );
    expect(certificateCondition(route)?.status).toBe('Unknown');
    expect(condition(route, 'Ready')?.status).toBe('Unknown');
    expect(route.status.url).toBe(`https://hello.${ns}.example.com`);
    expect((await get(ingressesPath(ns, 'hello'))).spec.httpOption).toBe('Redirected');
  });

  it('is turned off per Service by networking.knative.dev/disable-external-domain-tls', async () => {
    const ns = await setUp('tls-optout', { 'external-domain-tls': 'Enabled' }, { issuer: true });
    const optedOut = ksvc('hello');
    optedOut.metadata.annotations = { 'networking.knative.dev/disable-external-domain-tls': 'true' };
    await mustSucceed(apply(ns, optedOut));
    const route = await waitFor('Route Ready', () => routeOf(ns, 'hello'), isReadyNow);
    expect(certificateCondition(route)).toMatchObject({
      status: 'True',
      reason: 'TLSNotEnabled',
      message: 'external-domain-tls is not enabled',
    });
    expect(route.status.url).toBe(`http://hello.${ns}.example.com`);
    expect(await list(certificatesPath(ns))).toEqual([]);
  });

  it('reports a Certificate name someone else holds (CertificateNotOwned)', async () => {
    const ns = await setUp(
      'tls-notowned',
      { 'external-domain-tls': 'Enabled', 'http-protocol': 'Redirected' },
      {
        issuer: false,
      },
    );
    // The Route's uid is known only once it exists: make it under a traffic target that does not
    // resolve yet, take its Certificate's name, then let the traffic resolve.
    const route = {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Route',
      metadata: { name: 'web' },
      spec: { traffic: [{ configurationName: 'web', percent: 100 }] },
    };
    await mustSucceed(apply(ns, route));
    const created = await waitFor('Route', () => getOrUndefined(serving(ns, 'routes', 'web')));
    const name = `route-${created.metadata.uid}`;
    await api.request('POST', certificatesPath(ns), {
      body: {
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'Certificate',
        metadata: { name },
        spec: { dnsNames: ['someone.else.example.com'], secretName: 'elsewhere' },
      },
    });
    await mustSucceed(
      apply(ns, {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Configuration',
        metadata: { name: 'web' },
        spec: { template: { spec: { containers: [{ image: 'dev.local/hello:1' }] } } },
      }),
    );
    const refused = await waitFor(
      'CertificateNotOwned',
      () => routeOf(ns, 'web'),
      (r) => certificateCondition(r)?.reason === 'CertificateNotOwned',
    );
    expect(certificateCondition(refused)).toMatchObject({
      status: 'False',
      message: `There is an existing certificate ${name} that we don't own.`,
    });
    expect(condition(refused, 'Ready')?.status).toBe('False');
  });
});

describe('a certificate the gateway cannot serve', () => {
  it("reaches the Route's IngressReady and Ready in the gateway's own words", async () => {
    const ns = await setUp('tls-bad', { 'external-domain-tls': 'Enabled' }, { issuer: true });
    await mustSucceed(apply(ns, ksvc('hello')));
    // Ready with its certificate wired in, so no later Ingress change overwrites the status put below.
    await waitFor(
      'Route Ready with an https URL',
      () => routeOf(ns, 'hello'),
      (r) => isReadyNow(r) && r.status.url?.startsWith('https://'),
    );
    // What the gateway writes when the Route's Secret holds a certificate for another name
    // (gateway/status.ts; the gateway integration test makes it say so for real).
    const ingress = await get(ingressesPath(ns, 'hello'));
    const message = `host hello.${ns}.example.com: the certificate of Secret ${ns}/x does not name it`;
    const conditions = ['LoadBalancerReady', 'Ready'].map((type) => ({
      type,
      status: 'Unknown',
      reason: 'Uninitialized',
      message,
      lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }));
    await api.request('PUT', `${ingressesPath(ns, 'hello')}/status`, {
      body: { ...ingress, status: { ...ingress.status, conditions } },
    });
    const route = await waitFor(
      "Route IngressReady Unknown in the gateway's words",
      () => routeOf(ns, 'hello'),
      (r) => condition(r, 'IngressReady')?.status === 'Unknown' && condition(r, 'IngressReady')?.message === message,
    );
    expect(condition(route, 'IngressReady')).toMatchObject({ reason: 'Uninitialized', message });
    expect(condition(route, 'Ready')).toMatchObject({ status: 'Unknown', message });
  });
});

describe('cluster-local-domain-tls', () => {
  it('gives each target name a -local Certificate for its cluster-local hosts and an https address', async () => {
    const ns = await setUp('tls-local', { 'cluster-local-domain-tls': 'Enabled' }, { issuer: true });
    await mustSucceed(apply(ns, ksvc('hello')));
    const route = await waitFor(
      'Route Ready with an https address',
      () => routeOf(ns, 'hello'),
      (r) => isReadyNow(r) && r.status.address?.url?.startsWith('https://'),
    );
    expect(route.status.address.url).toBe(`https://hello.${ns}.svc.cluster.local`);
    // external-domain-tls is off: the external URL keeps http.
    expect(route.status.url).toBe(`http://hello.${ns}.example.com`);
    const name = `route-${route.metadata.uid}-local`;
    const certificate = await get(certificatesPath(ns, name));
    expect(certificate.spec).toEqual({
      dnsNames: [`hello.${ns}`, `hello.${ns}.svc`, `hello.${ns}.svc.cluster.local`],
      domain: 'svc.cluster.local',
      secretName: name,
    });
    const ingress = await waitFor(
      'KIngress with tls',
      () => get(ingressesPath(ns, 'hello')),
      (i) => (i.spec.tls?.length ?? 0) > 0,
    );
    expect(ingress.spec.tls).toEqual([{ hosts: certificate.spec.dnsNames, secretName: name, secretNamespace: ns }]);
  });
});

describe('namespace-wildcard-cert-selector', () => {
  it('gives a selected namespace a wildcard Certificate, which its Routes use instead of their own', async () => {
    const selector = 'matchLabels: {wildcards: "on"}';
    const ns = await setUp(
      'tls-wildcard',
      { 'external-domain-tls': 'Enabled', 'namespace-wildcard-cert-selector': selector },
      { issuer: true },
    );
    // Labelled after the reconcilers started: the label's arrival is what brings the Certificate.
    await api.request('PATCH', `/api/v1/namespaces/${ns}`, {
      body: { metadata: { labels: { wildcards: 'on' } } },
      contentType: 'application/merge-patch+json',
    });
    const wildcardName = `${ns}.example.com`;
    const wildcard = await waitFor(
      'wildcard Certificate Ready',
      () => getOrUndefined(certificatesPath(ns, wildcardName)),
      (c) => isReadyNow(c),
    );
    expect(wildcard.spec).toEqual({ dnsNames: [`*.${ns}.example.com`], secretName: wildcardName });
    expect(wildcard.metadata.labels).toEqual({ 'networking.knative.dev/wildcardDomain': 'example.com' });
    expect(wildcard.metadata.ownerReferences).toEqual([
      expect.objectContaining({ apiVersion: 'v1', kind: 'Namespace', name: ns, controller: true }),
    ]);

    await mustSucceed(apply(ns, ksvc('hello')));
    const service = await waitFor(
      'ksvc Ready with an https URL',
      () => get(serving(ns, 'services', 'hello')),
      (s) => isReadyNow(s) && s.status.url?.startsWith('https://'),
    );
    expect(service.status.url).toBe(`https://hello.${ns}.example.com`);
    const ingress = await get(ingressesPath(ns, 'hello'));
    expect(ingress.spec.tls).toEqual([
      { hosts: [`hello.${ns}.example.com`], secretName: wildcardName, secretNamespace: ns },
    ]);
    // No Certificate of the Route's own.
    expect((await list(certificatesPath(ns))).map((c: Json) => c.metadata.name)).toEqual([wildcardName]);

    // Unselected, the namespace loses it.
    await api.request('PATCH', `/api/v1/namespaces/${ns}`, {
      body: { metadata: { labels: { wildcards: null } } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor(
      'wildcard Certificate deleted',
      () => list(certificatesPath(ns)),
      (c) => !c.some((x: Json) => x.metadata.name === wildcardName),
    );
  });
});
