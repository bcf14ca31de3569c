// cert-manager's certificate class, reconciled in process against the real API server with
// cert-manager's own Certificate CRD (from the cert-manager Go module at CERT_MANAGER_VERSION,
// through the Go module proxy): a Knative Certificate of the class becomes a cert-manager
// Certificate, and its Ready follows what cert-manager reports. No cert-manager runs: the test
// writes the cert-manager Certificate's status as cert-manager would.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CERT_MANAGER_VERSION } from '../../../hack/versions.ts';
import { createNamespace, kubectl, mustSucceed } from '../../support/kube.ts';
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

const run = promisify(execFile);
const CLASS = 'cert-manager.certificate.networking.knative.dev';

const cleanups = cleanupsAfterEach();

beforeAll(async () => {
  const { stdout } = await run(
    'go',
    ['mod', 'download', '-json', `github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}`],
    { env: { ...process.env, GOFLAGS: '-mod=mod' }, cwd: '/', timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const crd = join((JSON.parse(stdout) as { Dir: string }).Dir, 'deploy', 'crds', 'cert-manager.io_certificates.yaml');
  await mustSucceed(kubectl(['apply', '--server-side', '-f', crd]));
  await mustSucceed(
    kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/certificates.cert-manager.io']),
  );
}, 660_000);

const kcertPath = (ns: string, name = '') =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/certificates${name ? `/${name}` : ''}`;
const cmPath = (ns: string, name = '') =>
  `/apis/cert-manager.io/v1/namespaces/${ns}/certificates${name ? `/${name}` : ''}`;

async function setUp(prefix: string, certmanager: Record<string, string> = {}) {
  const ns = await createNamespace(prefix);
  await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  await putConfigMap(ns, 'config-network', {});
  await putConfigMap(ns, 'config-certmanager', certmanager);
  const reconcilers = await startInProcess(ns, { certManager: true });
  cleanups.push(() => reconcilers.stop());
  return ns;
}

function knativeCertificate(name: string, dnsNames: string[], labels: Record<string, string> = {}) {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Certificate',
    metadata: { name, labels, annotations: { 'networking.knative.dev/certificate.class': CLASS } },
    spec: { dnsNames, secretName: `${name}-tls`, domain: 'example.com' },
  };
}

/** The cert-manager Certificate's status, written as cert-manager writes it. */
async function setCertManagerStatus(ns: string, name: string, status: Json) {
  const current = await get(cmPath(ns, name));
  await api.request('PUT', `${cmPath(ns, name)}/status`, { body: { ...current, status } });
}

const readyOf = (ns: string, name: string) => async () => condition(await get(kcertPath(ns, name)), 'Ready');

describe("cert-manager's certificate class", () => {
  it('makes a cert-manager Certificate with the issuer of config-certmanager, and follows its Ready', async () => {
    const ns = await setUp('cm-ready', { issuerRef: 'kind: ClusterIssuer\nname: letsencrypt' });
    const created = await api.request<Json>('POST', kcertPath(ns), {
      body: knativeCertificate('web', [`web.${ns}.example.com`]),
    });
    const cm = await waitFor('cert-manager Certificate', () => getOrUndefined(cmPath(ns, 'web')));
    expect(cm.spec).toEqual({
      commonName: `web.${ns}.example.com`,
      dnsNames: [`web.${ns}.example.com`],
      secretName: 'web-tls',
      issuerRef: { kind: 'ClusterIssuer', name: 'letsencrypt' },
      secretTemplate: { labels: { 'networking.internal.knative.dev/certificate-uid': created.metadata.uid } },
    });
    expect(cm.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Certificate', name: 'web', uid: created.metadata.uid, controller: true }),
    ]);
    await waitFor('no condition yet', readyOf(ns, 'web'), (c) => c.reason === 'NoCertManagerCertCondition');

    await setCertManagerStatus(ns, 'web', {
      conditions: [{ type: 'Ready', status: 'False', reason: 'Pending', message: 'Issuing certificate' }],
    });
    expect(await waitFor('pending', readyOf(ns, 'web'), (c) => c.reason === 'Pending')).toMatchObject({
      status: 'Unknown',
      message: 'Issuing certificate',
    });

    const notAfter = '2027-03-07T10:00:00Z';
    await setCertManagerStatus(ns, 'web', {
      notAfter,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }],
    });
    await waitFor('Ready', readyOf(ns, 'web'), (c) => c.status === 'True');
    expect((await get(kcertPath(ns, 'web'))).status.notAfter).toBe(notAfter);

    await setCertManagerStatus(ns, 'web', {
      conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'the issuer refused' }],
    });
    expect(await waitFor('failed', readyOf(ns, 'web'), (c) => c.status === 'False')).toMatchObject({
      reason: 'Failed',
      message: 'the issuer refused',
    });
  });

  it("takes the cluster-local issuer for cluster-local Certificates, and leaves other classes' alone", async () => {
    const ns = await setUp('cm-local', { clusterLocalIssuerRef: 'kind: Issuer\nname: internal-ca' });
    // Of pilotlight's class, whose issuer does not run here: created first, so it is seen before 'local' is done.
    const other = knativeCertificate('ours', [`ours.${ns}.example.com`]);
    other.metadata.annotations['networking.knative.dev/certificate.class'] =
      'pilotlight.certificate.networking.knative.dev';
    await api.request('POST', kcertPath(ns), { body: other });
    await api.request('POST', kcertPath(ns), {
      body: knativeCertificate('local', [`hello.${ns}.svc.cluster.local`], {
        'networking.knative.dev/certificate-type': 'cluster-local-domain',
      }),
    });
    const cm = await waitFor('cert-manager Certificate', () => getOrUndefined(cmPath(ns, 'local')));
    expect(cm.spec.issuerRef).toEqual({ kind: 'Issuer', name: 'internal-ca' });
    await waitFor('local reconciled', readyOf(ns, 'local'), (c) => c.reason === 'NoCertManagerCertCondition');
    expect(await getOrUndefined(cmPath(ns, 'ours'))).toBeUndefined();
    expect((await get(kcertPath(ns, 'ours'))).status).toBeUndefined();
  });

  it('refuses a name too long to be a common name when there is no shorter one', async () => {
    const ns = await setUp('cm-long');
    const long = `${'a'.repeat(60)}.${ns}.example.com`;
    const body = knativeCertificate('long', [long]);
    body.spec.domain = long;
    await api.request('POST', kcertPath(ns), { body });
    expect(await waitFor('refused', readyOf(ns, 'long'), (c) => c.status === 'False')).toMatchObject({
      reason: 'CommonName Too Long',
      message: `error creating cert-manager certificate: CommonName (${long}) longer than 63 characters`,
    });
    expect(await getOrUndefined(cmPath(ns, 'long'))).toBeUndefined();
  });
});
