// DomainMapping → ClusterDomainClaim + KIngress, reconciled in process against the real API
// server, with the ksvc it maps to made Ready by FakeDataPlane (which also plays the gateway).
import { describe, expect, it } from 'vitest';
import { apply, createNamespace, kubectl, mustSucceed } from '../../support/kube.ts';
import {
  api,
  condition,
  FakeDataPlane,
  get,
  getOrUndefined,
  ingressesPath,
  isReadyNow,
  ksvc,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

const cleanups = cleanupsAfterEach();

const dmPath = (ns: string, name = '') =>
  `/apis/serving.knative.dev/v1beta1/namespaces/${ns}/domainmappings${name ? `/${name}` : ''}`;
const claimPath = (name: string) => `/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims/${name}`;

async function setUp(prefix: string, network: Record<string, string> = { 'autocreate-cluster-domain-claims': 'true' }) {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  await putConfigMap(ns, 'config-domain', { 'example.com': '' });
  await putConfigMap(ns, 'config-network', network);
  const reconcilers = await startInProcess(ns);
  const dataPlane = new FakeDataPlane(api, ns).start();
  cleanups.push(
    () => reconcilers.stop(),
    () => dataPlane.stop(),
  );
  await mustSucceed(apply(ns, ksvc('hello')));
  await waitFor('ksvc hello Ready', () => get(serving(ns, 'services', 'hello')), isReadyNow);
  return ns;
}

const domainMapping = (
  name: string,
  ref: Record<string, string> = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
) => ({
  apiVersion: 'serving.knative.dev/v1beta1',
  kind: 'DomainMapping',
  metadata: { name },
  spec: { ref },
});

describe('DomainMapping reconciliation', () => {
  it('maps a domain to a ksvc: claim, KIngress rewriting the Host, URL, address and Ready', async () => {
    const ns = await setUp('dm-ready');
    const host = `${ns}.example.org`;
    await mustSucceed(apply(ns, domainMapping(host)));

    const dm = await waitFor('DomainMapping Ready', () => get(dmPath(ns, host)), isReadyNow);
    expect(dm.status.url).toBe(`http://${host}`);
    expect(dm.status.address).toEqual({ url: `http://${host}` });
    expect(dm.spec.ref.namespace).toBe(ns);
    expect(dm.metadata.finalizers).toEqual(['domainmappings.serving.knative.dev']);
    for (const type of ['DomainClaimed', 'ReferenceResolved', 'IngressReady'])
      expect(condition(dm, type)?.status).toBe('True');
    expect(condition(dm, 'CertificateProvisioned')).toMatchObject({ status: 'True', reason: 'TLSNotEnabled' });

    expect((await get(claimPath(host))).spec).toEqual({ namespace: ns });
    const ingress = await get(ingressesPath(ns, host));
    expect(ingress.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'DomainMapping', name: host, uid: dm.metadata.uid, controller: true }),
    ]);
    expect(ingress.metadata.labels).toMatchObject({
      'serving.knative.dev/domainMappingUID': dm.metadata.uid,
      'serving.knative.dev/domainMappingNamespace': ns,
    });
    expect(ingress.spec.rules).toEqual([
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [
            {
              rewriteHost: `hello.${ns}.svc.cluster.local`,
              splits: [
                {
                  serviceNamespace: ns,
                  serviceName: 'hello',
                  servicePort: 80,
                  percent: 100,
                  appendHeaders: { 'K-Original-Host': host },
                },
              ],
            },
          ],
        },
      },
    ]);

    const wait = await kubectl(['wait', '-n', ns, '--for=condition=Ready', '--timeout=30s', `dm/${host}`]);
    expect(wait.code).toBe(0);
  });

  it('neither takes over nor follows a KIngress of its name that it does not own', async () => {
    const ns = await setUp('dm-notowned');
    const host = `${ns}.example.org`;
    const foreign = {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      // As a deleted mapping of the same name leaves it until garbage collection removes it.
      metadata: { name: host, labels: { 'serving.knative.dev/domainMappingUID': 'an-earlier-mapping' } },
      spec: {
        rules: [
          {
            hosts: ['other.example.org'],
            visibility: 'ExternalIP',
            http: {
              paths: [{ splits: [{ serviceNamespace: ns, serviceName: 'other', servicePort: 80, percent: 100 }] }],
            },
          },
        ],
      },
    };
    await mustSucceed(apply(ns, foreign));
    await mustSucceed(apply(ns, domainMapping(host)));

    const dm = await waitFor(
      'IngressReady False',
      () => get(dmPath(ns, host)),
      (d) => condition(d, 'IngressReady')?.status === 'False',
    );
    expect(condition(dm, 'IngressReady')).toMatchObject({
      reason: 'NotOwned',
      message: `There is an existing Ingress "${host}" that we do not own.`,
    });
    expect(condition(dm, 'Ready')?.status).toBe('False');
    const ingress = await get(ingressesPath(ns, host));
    expect(ingress.spec.rules[0].hosts).toEqual(['other.example.org']);
    expect(ingress.metadata.ownerReferences).toBeUndefined();
  });

  it("a second namespace's DomainMapping for a taken domain is not Ready until the first is deleted, which frees the claim", async () => {
    const first = await setUp('dm-first');
    const second = await setUp('dm-second');
    const host = `${first}.example.org`;
    await mustSucceed(apply(first, domainMapping(host)));
    await waitFor('first DomainMapping Ready', () => get(dmPath(first, host)), isReadyNow);

    await mustSucceed(apply(second, domainMapping(host)));
    const refused = await waitFor(
      'second DomainMapping not claimed',
      () => get(dmPath(second, host)),
      (dm) =>
        dm.status?.observedGeneration === dm.metadata.generation && condition(dm, 'DomainClaimed')?.status === 'False',
    );
    expect(condition(refused, 'DomainClaimed')).toMatchObject({
      reason: 'DomainAlreadyClaimed',
      message: 'The domain name is already in use by another DomainMapping',
    });
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', reason: 'DomainAlreadyClaimed' });
    expect(await getOrUndefined(ingressesPath(second, host))).toBeUndefined();

    await mustSucceed(kubectl(['delete', '-n', first, 'dm', host, '--wait=true', '--timeout=30s']));
    await waitFor('first DomainMapping gone', async () =>
      (await getOrUndefined(dmPath(first, host))) === undefined ? true : undefined,
    );
    const ready = await waitFor('second DomainMapping Ready', () => get(dmPath(second, host)), isReadyNow);
    expect(ready.status.url).toBe(`http://${host}`);
    expect((await get(claimPath(host))).spec).toEqual({ namespace: second });
    expect((await get(ingressesPath(second, host))).spec.rules[0].http.paths[0].rewriteHost).toBe(
      `hello.${second}.svc.cluster.local`,
    );
  });

  it("without autocreated claims, waits for an admin's ClusterDomainClaim; a missing ref is ResolveFailed", async () => {
    const ns = await setUp('dm-manual', {});
    const host = `${ns}.example.org`;
    await mustSucceed(apply(ns, domainMapping(host)));
    await waitFor(
      'DomainClaimed False',
      () => get(dmPath(ns, host)),
      (dm) => condition(dm, 'DomainClaimed')?.status === 'False',
    );
    expect(await getOrUndefined(claimPath(host))).toBeUndefined();

    await api.request('POST', '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims', {
      body: {
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'ClusterDomainClaim',
        metadata: { name: host },
        spec: { namespace: ns },
      },
    });
    cleanups.push(async () => {
      await api.request('DELETE', claimPath(host));
    });
    await waitFor('DomainMapping Ready', () => get(dmPath(ns, host)), isReadyNow);

    const other = `other.${ns}.example.org`;
    await api.request('POST', '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims', {
      body: {
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'ClusterDomainClaim',
        metadata: { name: other },
        spec: { namespace: ns },
      },
    });
    cleanups.push(async () => {
      await api.request('DELETE', claimPath(other));
    });
    await mustSucceed(
      apply(ns, domainMapping(other, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'nope' })),
    );
    const failed = await waitFor(
      'ReferenceResolved False',
      () => get(dmPath(ns, other)),
      (dm) => condition(dm, 'ReferenceResolved')?.status === 'False',
    );
    expect(condition(failed, 'ReferenceResolved')).toMatchObject({
      reason: 'ResolveFailed',
      message: `failed to get object ${ns}/nope: services.serving.knative.dev "nope" not found`,
    });
    // The admin's claim is not the mapping's to delete.
    await mustSucceed(kubectl(['delete', '-n', ns, 'dm', host, '--wait=true', '--timeout=30s']));
    expect(await getOrUndefined(claimPath(host))).toBeDefined();
  });

  it('under external-domain-tls gets a Certificate for its domain and an https URL once it is issued', async () => {
    const ns = await createNamespace('dm-tls');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    await putConfigMap(ns, 'config-domain', { 'example.com': '' });
    await putConfigMap(ns, 'config-network', {
      'autocreate-cluster-domain-claims': 'true',
      'external-domain-tls': 'Enabled',
    });
    const reconcilers = await startInProcess(ns, { certificateIssuer: true });
    const dataPlane = new FakeDataPlane(api, ns).start();
    cleanups.push(
      () => reconcilers.stop(),
      () => dataPlane.stop(),
    );
    await mustSucceed(apply(ns, ksvc('hello')));
    await waitFor('ksvc hello Ready', () => get(serving(ns, 'services', 'hello')), isReadyNow);
    const host = `${ns}.example.org`;
    const created = await api.request<Record<string, any>>('POST', dmPath(ns), { body: domainMapping(host) });

    const dm = await waitFor(
      'DomainMapping Ready over https',
      () => get(dmPath(ns, host)),
      (d) => isReadyNow(d) && d.status.url === `https://${host}`,
    );
    expect(condition(dm, 'CertificateProvisioned')?.status).toBe('True');
    const certificate = await get(
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/certificates/${host}`,
    );
    expect(certificate.spec).toEqual({ dnsNames: [host], domain: host, secretName: host });
    expect(certificate.metadata.labels).toEqual({
      'serving.knative.dev/domainMappingUID': host,
      'networking.knative.dev/certificate-type': 'external-domain',
    });
    expect(certificate.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'DomainMapping', name: host, uid: created.metadata.uid, controller: true }),
    ]);
    const ingress = await waitFor(
      'KIngress with tls',
      () => get(ingressesPath(ns, host)),
      (i) => (i.spec.tls?.length ?? 0) > 0,
    );
    expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: host, secretNamespace: ns }]);
  });
});
