// The cert-manager Certificate (cert-manager.io/v1) that stands for a Knative Certificate of
// cert-manager's class (net-certmanager's resources/cert_manager_certificate.go): same name,
// names and Secret, signed by the issuer config-certmanager names for the certificate's type.
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { CERTIFICATE_UID_LABEL, CertificateLabels, type Certificate } from '../../../lib/apis/networking.ts';
import type { CertManagerConfig, IssuerRef } from '../../../lib/config/certManager.ts';

export const CERT_MANAGER_API_VERSION = 'cert-manager.io/v1';
/** Knative's name for the class (networking CertManagerCertificateClassName), upstream's default. */
export const CERT_MANAGER_CERTIFICATE_CLASS = 'cert-manager.certificate.networking.knative.dev';

/** X.509 caps a common name at 64 bytes; cert-manager refuses longer ones. */
const LONGEST_COMMON_NAME = 63;
/** What a too-long first name is replaced with, before the Certificate's domain (net-certmanager's). */
const SHORT_PREFIX = 'k.';

export interface CertManagerCertificate {
  apiVersion?: string;
  kind?: string;
  metadata?: Certificate['metadata'];
  spec: {
    commonName?: string;
    dnsNames: string[];
    secretName: string;
    issuerRef: IssuerRef;
    secretTemplate?: { labels?: Record<string, string> };
  };
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    notAfter?: string;
  };
}

/** Why the Knative Certificate cannot be asked of cert-manager (its Ready turns False with these). */
export interface Refusal {
  reason: string;
  message: string;
}

function commonNameAndNames(certificate: Certificate): { commonName: string; dnsNames: string[] } | Refusal {
  const { dnsNames, domain } = certificate.spec;
  const first = dnsNames[0] ?? '';
  if (first.length <= LONGEST_COMMON_NAME) return { commonName: first, dnsNames };
  const tooLong = 'CommonName Too Long';
  if (!domain)
    return {
      reason: tooLong,
      message: `error creating cert-manager certificate: CommonName (${first}) too long and field spec.Domain on Kcert is empty, cannot attempt to shorten`,
    };
  // A DomainMapping's Certificate is for its domain alone: nothing shorter stands for it.
  if (domain === first)
    return {
      reason: tooLong,
      message: `error creating cert-manager certificate: CommonName (${first}) longer than 63 characters`,
    };
  if (domain.length > LONGEST_COMMON_NAME - SHORT_PREFIX.length)
    return {
      reason: tooLong,
      message: `error creating cert-manager certificate: CommonName (${domain})(length: ${domain.length}) too long, prepending short prefix of (${SHORT_PREFIX})(length: ${SHORT_PREFIX.length}) will be longer than 64 bytes`,
    };
  const commonName = SHORT_PREFIX + domain;
  return { commonName, dnsNames: [commonName, ...dnsNames] };
}

/** The issuer for the certificate's type label (external-domain when it has none). */
function issuerFor(certificate: Certificate, config: CertManagerConfig): IssuerRef | Refusal {
  const type = certificate.metadata?.labels?.[CertificateLabels.type] ?? 'external-domain';
  if (type === 'external-domain') return config.issuerRef;
  if (type === 'cluster-local-domain') return config.clusterLocalIssuerRef;
  if (type === 'system-internal') return config.systemInternalIssuerRef;
  return {
    reason: 'certificate type invalid',
    message: `error creating cert-manager certificate: certificate type ${type} is invalid`,
  };
}

export function makeCertManagerCertificate(
  certificate: Certificate,
  config: CertManagerConfig,
): { certificate: CertManagerCertificate } | { refused: Refusal } {
  const names = commonNameAndNames(certificate);
  if ('reason' in names) return { refused: names };
  const issuerRef = issuerFor(certificate, config);
  if ('reason' in issuerRef) return { refused: issuerRef };
  return {
    certificate: {
      apiVersion: CERT_MANAGER_API_VERSION,
      kind: 'Certificate',
      metadata: {
        name: certificate.metadata?.name ?? '',
        namespace: certificate.metadata?.namespace ?? '',
        labels: certificate.metadata?.labels,
        annotations: certificate.metadata?.annotations,
        ownerReferences: [controllerReference(certificate)],
      },
      spec: {
        commonName: names.commonName,
        dnsNames: names.dnsNames,
        secretName: certificate.spec.secretName,
        issuerRef,
        // As upstream: the Secret cert-manager writes says which Knative Certificate it serves.
        secretTemplate: { labels: { [CERTIFICATE_UID_LABEL]: certificate.metadata?.uid ?? '' } },
      },
    },
  };
}
