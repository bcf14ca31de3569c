// config-certmanager: which cert-manager issuer signs the Certificates of cert-manager's
// certificate class (net-certmanager's pkg/reconciler/certificate/config), one reference per
// Knative certificate type, each defaulting to net-certmanager's self-signed ClusterIssuer.
import { z } from 'zod';
import { type ConfigIssueReporter, parseConfigMap, yamlString } from './parse.ts';

/** cert-manager's ObjectReference: an Issuer (the default kind) or ClusterIssuer, or another group's issuer. */
const issuerRef = yamlString(
  z
    .object({ name: z.string().min(1), kind: z.string().min(1).optional(), group: z.string().min(1).optional() })
    .strict(),
);

export type IssuerRef = z.output<typeof issuerRef>;

/** The ClusterIssuer net-certmanager's install creates and refers to unless told otherwise. */
const SELF_SIGNED: IssuerRef = { kind: 'ClusterIssuer', name: 'knative-selfsigned-issuer' };

export const certManagerSchema = z.object({
  issuerRef: issuerRef.default(SELF_SIGNED),
  clusterLocalIssuerRef: issuerRef.default(SELF_SIGNED),
  systemInternalIssuerRef: issuerRef.default(SELF_SIGNED),
});

export type CertManagerConfig = z.output<typeof certManagerSchema>;

export const CONFIG_CERT_MANAGER = 'config-certmanager';
export const parseCertManagerConfig = (
  data?: Record<string, string>,
  report?: ConfigIssueReporter,
): CertManagerConfig => parseConfigMap(CONFIG_CERT_MANAGER, certManagerSchema, data, report);
