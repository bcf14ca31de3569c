// The CA pilotlight's certificate class issues from, kept in a kubernetes.io/tls Secret in the
// system namespace so every controller replica and restart issues from the same one. It is
// created on first use; an operator who wants their own CA creates the Secret beforehand.
import { createPrivateKey } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { readOrCreateSecret } from '../../lib/kube/secrets.ts';
import { readTlsSecret, TLS_SECRET_TYPE, tlsSecretData } from '../../lib/kube/tlsSecret.ts';
import type { Logger } from '../../lib/log.ts';
import { createCertificateAuthority, loadCertificateAuthority, type CertificateAuthority } from '../../lib/pki.ts';

export const CERTIFICATE_CA_SECRET = 'pilotlight-certificate-ca';
const CA_VALID_DAYS = 3650;

export interface AuthoritySource {
  get(log: Logger): Promise<CertificateAuthority>;
}

export function secretAuthority(client: KubeRest, namespace: string): AuthoritySource {
  /** The CA as last loaded, reused while its Secret is unchanged: loading imports keys. */
  let loaded: { resourceVersion: string | undefined; ca: CertificateAuthority } | undefined;

  const make = async (): Promise<V1Secret> => {
    const ca = await createCertificateAuthority('pilotlight-certificate-ca', CA_VALID_DAYS);
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: CERTIFICATE_CA_SECRET, namespace },
      type: TLS_SECRET_TYPE,
      data: tlsSecretData({ certificate: ca.certificate, privateKey: ca.privateKey }),
    };
  };

  return {
    async get(log) {
      // Another replica, or an operator, may have been first: theirs is the CA.
      const { secret, created } = await readOrCreateSecret(client, namespace, CERTIFICATE_CA_SECRET, make);
      if (created) log.info('created the certificate CA', { secret: `${namespace}/${CERTIFICATE_CA_SECRET}` });
      const resourceVersion = secret.metadata?.resourceVersion;
      if (loaded && loaded.resourceVersion === resourceVersion) return loaded.ca;
      const { certificate, privateKey } = readTlsSecret(secret);
      const where = `Secret ${namespace}/${CERTIFICATE_CA_SECRET}`;
      if (!certificate || !privateKey) throw new Error(`${where} must hold the CA in tls.crt and tls.key`);
      try {
        // openssl and kubectl write EC keys as SEC1 as often as PKCS#8; the CA loader takes PKCS#8.
        const pkcs8 = createPrivateKey(privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
        loaded = { resourceVersion, ca: await loadCertificateAuthority({ certificate, privateKey: pkcs8 }) };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`${where} does not hold a usable CA (a PEM certificate and its ECDSA P-256 key): ${reason}`);
      }
      return loaded.ca;
    },
  };
}
