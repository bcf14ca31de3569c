import { beforeAll, describe, expect, it } from 'vitest';
import { leafProblem, renewalTime } from '../../../controllers/certificate/renewal.ts';
import { isOfClass } from '../../../controllers/certificate/reconciler.ts';
import type { Certificate } from '../../../lib/apis/networking.ts';
import { createCertificateAuthority, type CertificateAuthority, type KeyPairPem } from '../../../lib/pki.ts';

const DAY = 24 * 60 * 60 * 1000;
const at = (iso: string) => new Date(iso);

describe('renewalTime', () => {
  it('renews a 90-day certificate 30 days before it expires, as upstream', () => {
    expect(renewalTime(at('2026-01-01T00:00:00Z'), at('2026-04-01T00:00:00Z'))).toBe(
      at('2026-03-02T00:00:00Z').getTime(),
    );
  });

  it('renews a short-lived certificate with a third of its lifetime left', () => {
    const notBefore = at('2026-01-01T00:00:00Z');
    expect(renewalTime(notBefore, new Date(notBefore.getTime() + 3 * DAY))).toBe(notBefore.getTime() + 2 * DAY);
  });

  it('never renews more than 30 days early, however long the certificate lives', () => {
    const notAfter = at('2036-01-01T00:00:00Z');
    expect(renewalTime(at('2026-01-01T00:00:00Z'), notAfter)).toBe(notAfter.getTime() - 30 * DAY);
  });
});

describe('leafProblem', () => {
  let ca: CertificateAuthority;
  let other: CertificateAuthority;
  let leaf: KeyPairPem;
  const names = ['hello.default.example.com', 'hello.default.svc.cluster.local'];
  const wanted = () => ({ dnsNames: names, caCertificate: ca.certificate });

  beforeAll(async () => {
    ca = await createCertificateAuthority('test-ca');
    other = await createCertificateAuthority('other-ca');
    leaf = await ca.issue({ commonName: names[0]!, dnsNames: names, usage: 'server', validDays: 90 });
  });

  it('accepts a fresh certificate from the CA for exactly the wanted names, in any order or case', () => {
    expect(leafProblem(leaf, wanted(), Date.now())).toBeUndefined();
    const reordered = { ...wanted(), dnsNames: [names[1]!.toUpperCase(), names[0]!] };
    expect(leafProblem(leaf, reordered, Date.now())).toBeUndefined();
  });

  it('asks for a new one when the names differ', () => {
    const more = { ...wanted(), dnsNames: [...names, 'extra.example.com'] };
    expect(leafProblem(leaf, more, Date.now())).toMatch(
      /covers hello\.default\.example\.com, .* not .*extra\.example\.com/,
    );
    expect(leafProblem(leaf, { ...wanted(), dnsNames: [names[0]!] }, Date.now())).toMatch(/^tls\.crt covers/);
  });

  it('asks for a new one when renewal is due', () => {
    expect(leafProblem(leaf, wanted(), Date.now() + 61 * DAY)).toMatch(/due for renewal since/);
    expect(leafProblem(leaf, wanted(), Date.now() + 59 * DAY)).toBeUndefined();
  });

  it('asks for a new one when the CA is not the current one', async () => {
    const foreign = await other.issue({ commonName: names[0]!, dnsNames: names, usage: 'server' });
    expect(leafProblem(foreign, wanted(), Date.now())).toBe('tls.crt was not issued by the current CA');
  });

  it('asks for a new one when the Secret was tampered with', async () => {
    const stranger = await ca.issue({ commonName: 'x', dnsNames: names, usage: 'server' });
    expect(leafProblem({ ...leaf, privateKey: stranger.privateKey }, wanted(), Date.now())).toBe(
      'tls.key is not the key of tls.crt',
    );
    expect(leafProblem({ ...leaf, certificate: 'garbage' }, wanted(), Date.now())).toMatch(/does not parse/);
    expect(leafProblem({ privateKey: leaf.privateKey }, wanted(), Date.now())).toBe('there is no tls.crt');
    expect(leafProblem({ certificate: leaf.certificate }, wanted(), Date.now())).toBe('there is no tls.key');
  });
});

describe('isOfClass', () => {
  const OURS = 'pilotlight.certificate.networking.knative.dev';
  const CERT_MANAGER = 'cert-manager.certificate.networking.knative.dev';
  const cert = (annotations?: Record<string, string>): Certificate => ({
    metadata: { name: 'c', annotations },
    spec: { dnsNames: ['a.example.com'], secretName: 's' },
  });

  it('takes the class from the annotation, either spelling, before the default', () => {
    expect(isOfClass(cert({ 'networking.knative.dev/certificate.class': OURS }), OURS, CERT_MANAGER)).toBe(true);
    expect(isOfClass(cert({ 'networking.knative.dev/certificate-class': OURS }), OURS, CERT_MANAGER)).toBe(true);
    expect(isOfClass(cert({ 'networking.knative.dev/certificate.class': CERT_MANAGER }), OURS, OURS)).toBe(false);
  });

  it('falls back to the default class when no annotation names one', () => {
    expect(isOfClass(cert(), OURS, OURS)).toBe(true);
    expect(isOfClass(cert(), OURS, CERT_MANAGER)).toBe(false);
  });
});
