import { X509Certificate, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, createSigningKey, loadCertificateAuthority } from '../../lib/pki.ts';

describe('pki', () => {
  it('issues server certificates with the requested names, signed by the CA', async () => {
    const ca = await createCertificateAuthority('test-ca');
    const leaf = await ca.issue({
      commonName: 'api',
      dnsNames: ['localhost', 'api.ns.svc'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const caCert = new X509Certificate(ca.certificate);
    const cert = new X509Certificate(leaf.certificate);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:api.ns.svc, IP Address:127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(leaf.privateKey))).toBe(true);
  });

  it('a CA reloaded from PEM issues certificates the original CA certificate verifies', async () => {
    const ca = await createCertificateAuthority('test-ca');
    const reloaded = await loadCertificateAuthority(ca);
    const leaf = await reloaded.issue({ commonName: 'client', organizations: ['system:masters'], usage: 'client' });
    const cert = new X509Certificate(leaf.certificate);
    expect(cert.verify(new X509Certificate(ca.certificate).publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=client\nO=system:masters');
    const other = await createCertificateAuthority('other-ca');
    expect(cert.verify(new X509Certificate(other.certificate).publicKey)).toBe(false);
  });

  it('signing keys sign and verify', async () => {
    const key = await createSigningKey();
    const signature = sign('sha256', Buffer.from('token'), createPrivateKey(key.privateKey));
    expect(verify('sha256', Buffer.from('token'), createPublicKey(key.publicKey), signature)).toBe(true);
  });
});
