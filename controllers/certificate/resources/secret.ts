// The Secret a Certificate's certificate is written to (spec.secretName, in its namespace).
import type { V1Secret } from '@kubernetes/client-node';
import { CERTIFICATE_UID_LABEL, type Certificate } from '../../../lib/apis/networking.ts';
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { TLS_SECRET_TYPE, tlsSecretData } from '../../../lib/kube/tlsSecret.ts';
import type { KeyPairPem } from '../../../lib/pki.ts';

export function makeSecret(certificate: Certificate, pair: KeyPairPem, caCertificate: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: certificate.spec.secretName,
      namespace: certificate.metadata?.namespace,
      labels: { [CERTIFICATE_UID_LABEL]: certificate.metadata?.uid ?? '' },
      ownerReferences: [controllerReference(certificate)],
    },
    type: TLS_SECRET_TYPE,
    // ca.crt as cert-manager writes it, for clients of the service to trust.
    data: tlsSecretData({ ...pair, caCertificate }),
  };
}
