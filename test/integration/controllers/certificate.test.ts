// pilotlight's certificate class, reconciled in process against the real API server: Certificates
// of its class get a Secret with a certificate from the CA Secret; others are left alone.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../../lib/pki.ts';
import { createNamespace } from '../../support/kube.ts';
import {
  api,
  condition,
  get,
  getOrUndefined,
  putConfigMap,
  QUEUE_IMAGE,
  startInProcess,
  waitFor,
  cleanupsAfterEach,
} from './harness.ts';

type Json = Record<string, any>;

const cleanups = cleanupsAfterEach();

const OURS = 'pilotlight.certificate.networking.knative.dev';
const CERT_MANAGER = 'cert-manager.certificate.networking.knative.dev';

const certificatesPath = (ns: string, name = '') =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/certificates${name ? `/${name}` : ''}`;
const secretPath = (ns: string, name = '') => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ''}`;

const decode = (secret: Json, key: string) => Buffer.from(secret.data[key], 'base64').toString('utf8');

async function setUp(prefix: string, network: Record<string, string> = {}) {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  await putConfigMap(ns, 'config-network', network);
  const reconcilers = await startInProcess(ns, { certificateIssuer: true });
  cleanups.push(() => reconcilers.stop());
  return ns;
}

function certificate(name: string, dnsNames: string[], annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Certificate',
    metadata: { name, annotations },
    spec: { dnsNames, secretName: `${name}-tls` },
  };
}

const create = (ns: string, body: Json) => api.request<Json>('POST', certificatesPath(ns), { body });

/** Ready for its current generation. */
const readyNow = (c: Json) =>
  condition(c, 'Ready')?.status === 'True' && c.status?.observedGeneration === c.metadata?.generation;

/** The Secret's certificate, checked against the CA Secret: signed by it, for exactly these names. */
async function expectServes(ns: string, secretName: string, names: string[]): Promise<X509Certificate> {
  const secret = await get<Json>(secretPath(ns, secretName));
  expect(secret.type).toBe('kubernetes.io/tls');
  const caSecret = await get<Json>(secretPath(ns, 'pilotlight-certificate-ca'));
  const ca = new X509Certificate(decode(caSecret, 'tls.crt'));
  const leaf = new X509Certificate(decode(secret, 'tls.crt'));
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(decode(secret, 'ca.crt')).toBe(decode(caSecret, 'tls.crt'));
  expect(leaf.subjectAltName?.split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
  for (const name of names) expect(leaf.checkHost(name)).toBe(name);
  return leaf;
}

describe("pilotlight's certificate class", () => {
  it('issues a Certificate of the default class from the CA Secret, created on first use', async () => {
    const ns = await setUp('cert-ready');
    const names = [`hello.${ns}.example.com`, `hello.${ns}.svc.cluster.local`];
    const created = await create(ns, certificate('hello', names));

    const ready = await waitFor('Certificate Ready', () => get<Json>(certificatesPath(ns, 'hello')), readyNow);
    const leaf = await expectServes(ns, 'hello-tls', names);
    expect(ready.status.notAfter).toBe(new Date(leaf.validTo).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const secret = await get<Json>(secretPath(ns, 'hello-tls'));
    expect(secret.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Certificate', name: 'hello', uid: created.metadata.uid, controller: true }),
    ]);
    expect(secret.metadata.labels['networking.internal.knative.dev/certificate-uid']).toBe(created.metadata.uid);
  });

  it('re-issues when dnsNames change, and recreates a deleted or altered Secret', async () => {
    const ns = await setUp('cert-reissue');
    await create(ns, certificate('web', [`a.${ns}.example.com`], { 'networking.knative.dev/certificate.class': OURS }));
    await waitFor('Certificate Ready', () => get<Json>(certificatesPath(ns, 'web')), readyNow);

    const current = await get<Json>(certificatesPath(ns, 'web'));
    const names = [`a.${ns}.example.com`, `b.${ns}.example.com`];
    await api.request('PUT', certificatesPath(ns, 'web'), {
      body: { ...current, spec: { ...current.spec, dnsNames: names } },
    });
    await waitFor('Certificate Ready for the new names', () => get<Json>(certificatesPath(ns, 'web')), readyNow);
    await waitFor(
      'Secret re-issued for both names',
      () => get<Json>(secretPath(ns, 'web-tls')),
      (s) => new X509Certificate(decode(s, 'tls.crt')).checkHost(names[1]!) !== undefined,
    );
    await expectServes(ns, 'web-tls', names);

    const before = await get<Json>(secretPath(ns, 'web-tls'));
    await api.request('DELETE', secretPath(ns, 'web-tls'));
    await waitFor(
      'Secret recreated',
      () => getOrUndefined<Json>(secretPath(ns, 'web-tls')),
      (s) => s.metadata.uid !== before.metadata.uid,
    );
    await expectServes(ns, 'web-tls', names);

    const recreated = await get<Json>(secretPath(ns, 'web-tls'));
    const tampered = { ...recreated, data: { ...recreated.data, 'tls.crt': before.data['ca.crt'] } };
    await api.request('PUT', secretPath(ns, 'web-tls'), { body: tampered });
    await waitFor(
      'altered Secret restored',
      () => get<Json>(secretPath(ns, 'web-tls')),
      (s) => s.data['tls.crt'] !== before.data['ca.crt'],
    );
    await expectServes(ns, 'web-tls', names);
  });

  it('leaves Certificates of another class alone and reports a Secret it does not own', async () => {
    const ns = await setUp('cert-class');
    await create(
      ns,
      certificate('theirs', [`x.${ns}.example.com`], { 'networking.knative.dev/certificate.class': CERT_MANAGER }),
    );
    await api.request('POST', secretPath(ns), {
      body: { metadata: { name: 'taken-tls' }, type: 'Opaque', data: { other: 'eA==' } },
    });
    await create(ns, certificate('taken', [`y.${ns}.example.com`]));

    // Queued after the other class's Certificate, so that one has had its turn by now.
    const taken = await waitFor(
      'Certificate NotOwned',
      () => get<Json>(certificatesPath(ns, 'taken')),
      (c) => condition(c, 'Ready')?.status === 'False',
    );
    expect(condition(taken, 'Ready')).toMatchObject({
      reason: 'NotOwned',
      message: 'There is an existing Secret "taken-tls" that we do not own.',
    });
    expect((await get<Json>(secretPath(ns, 'taken-tls'))).data).toEqual({ other: 'eA==' });

    const theirs = await get<Json>(certificatesPath(ns, 'theirs'));
    expect(theirs.status).toBeUndefined();
    expect(await getOrUndefined(secretPath(ns, 'theirs-tls'))).toBeUndefined();
  });

  it('follows config-network certificate-class for Certificates that name no class', async () => {
    const ns = await setUp('cert-default', { 'certificate-class': CERT_MANAGER });
    await create(ns, certificate('unnamed', [`u.${ns}.example.com`]));
    await create(
      ns,
      certificate('named', [`n.${ns}.example.com`], { 'networking.knative.dev/certificate-class': OURS }),
    );
    await waitFor('named Certificate Ready', () => get<Json>(certificatesPath(ns, 'named')), readyNow);
    expect((await get<Json>(certificatesPath(ns, 'unnamed'))).status).toBeUndefined();

    await putConfigMap(ns, 'config-network', {});
    await waitFor(
      'unnamed Certificate Ready once ours is the default',
      () => get<Json>(certificatesPath(ns, 'unnamed')),
      readyNow,
    );
    await expectServes(ns, 'unnamed-tls', [`u.${ns}.example.com`]);
  });

  it("issues from an operator's own CA Secret, with an EC key in SEC1 form as openssl writes it", async () => {
    const ns = await createNamespace('cert-own-ca');
    const own = await createCertificateAuthority('operator-ca');
    const sec1 = createPrivateKey(own.privateKey).export({ type: 'sec1', format: 'pem' }).toString();
    await api.request('POST', secretPath(ns), {
      body: {
        metadata: { name: 'pilotlight-certificate-ca' },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': own.certificate, 'tls.key': sec1 },
      },
    });
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    const reconcilers = await startInProcess(ns, { certificateIssuer: true });
    cleanups.push(() => reconcilers.stop());

    await create(ns, certificate('own', [`o.${ns}.example.com`]));
    await waitFor('Certificate Ready', () => get<Json>(certificatesPath(ns, 'own')), readyNow);
    const leaf = await expectServes(ns, 'own-tls', [`o.${ns}.example.com`]);
    expect(leaf.verify(new X509Certificate(own.certificate).publicKey)).toBe(true);
  });
});
