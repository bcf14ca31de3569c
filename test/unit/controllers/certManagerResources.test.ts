import type { ConfigIssue } from '../../../lib/config/parse.ts';
import { describe, expect, it } from 'vitest';
import type { Certificate } from '../../../lib/apis/networking.ts';
import { parseCertManagerConfig } from '../../../lib/config/certManager.ts';
import { makeCertManagerCertificate } from '../../../controllers/certmanager/resources/certificate.ts';

const kcert = (dnsNames: string[], domain?: string, labels: Record<string, string> = {}): Certificate => ({
  apiVersion: 'networking.internal.knative.dev/v1alpha1',
  kind: 'Certificate',
  metadata: { name: 'route-1', namespace: 'ns', uid: 'kcert-uid', labels, annotations: { a: 'b' } },
  spec: { dnsNames, secretName: 'route-1', ...(domain ? { domain } : {}) },
});

const defaults = parseCertManagerConfig();

describe('config-certmanager', () => {
  it("defaults every issuer to net-certmanager's self-signed ClusterIssuer; a bad one names the key", () => {
    const selfSigned = { kind: 'ClusterIssuer', name: 'knative-selfsigned-issuer' };
    expect(defaults).toEqual({
      issuerRef: selfSigned,
      clusterLocalIssuerRef: selfSigned,
      systemInternalIssuerRef: selfSigned,
    });
    expect(parseCertManagerConfig({ issuerRef: 'kind: ClusterIssuer\nname: letsencrypt' }).issuerRef).toEqual({
      kind: 'ClusterIssuer',
      name: 'letsencrypt',
    });
    const issues: ConfigIssue[] = [];
    expect(
      parseCertManagerConfig({ issuerRef: 'kind: ClusterIssuer' }, (issue) => issues.push(issue)).issuerRef,
    ).toEqual(selfSigned);
    expect(issues).toEqual([{ key: 'issuerRef', message: expect.stringMatching(/name/) }]);
  });
});

describe('the cert-manager Certificate of a Knative Certificate', () => {
  it('has its name, names, Secret, labels and annotations, and the issuer for its type', () => {
    const made = makeCertManagerCertificate(kcert(['a.ns.example.com']), defaults);
    expect(made).toEqual({
      certificate: {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: {
          name: 'route-1',
          namespace: 'ns',
          labels: {},
          annotations: { a: 'b' },
          ownerReferences: [
            {
              apiVersion: 'networking.internal.knative.dev/v1alpha1',
              kind: 'Certificate',
              name: 'route-1',
              uid: 'kcert-uid',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          commonName: 'a.ns.example.com',
          dnsNames: ['a.ns.example.com'],
          secretName: 'route-1',
          issuerRef: defaults.issuerRef,
          secretTemplate: { labels: { 'networking.internal.knative.dev/certificate-uid': 'kcert-uid' } },
        },
      },
    });
    const config = parseCertManagerConfig({ systemInternalIssuerRef: 'name: internal' });
    const internal = makeCertManagerCertificate(
      kcert(['x'], undefined, { 'networking.knative.dev/certificate-type': 'system-internal' }),
      config,
    );
    expect('certificate' in internal && internal.certificate.spec.issuerRef).toEqual({ name: 'internal' });
    expect(
      makeCertManagerCertificate(
        kcert(['x'], undefined, { 'networking.knative.dev/certificate-type': 'other' }),
        defaults,
      ),
    ).toEqual({
      refused: {
        reason: 'certificate type invalid',
        message: 'error creating cert-manager certificate: certificate type other is invalid',
      },
    });
  });

  it('shortens a first name too long for a common name to k.<domain>, added to the names', () => {
    const long = `${'a'.repeat(50)}.some-namespace.example.com`;
    const made = makeCertManagerCertificate(kcert([long], 'example.com'), defaults);
    expect('certificate' in made && made.certificate.spec).toMatchObject({
      commonName: 'k.example.com',
      dnsNames: ['k.example.com', long],
    });
    const refused = makeCertManagerCertificate(kcert([long]), defaults);
    expect('refused' in refused && refused.refused.message).toMatch(/spec.Domain on Kcert is empty/);
    const longDomain = `${'d'.repeat(62)}.com`;
    expect('refused' in makeCertManagerCertificate(kcert([`x.${longDomain}`], longDomain), defaults)).toBe(true);
  });
});
