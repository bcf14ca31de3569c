// A namespace's wildcard Knative Certificate for one domain (upstream pkg/reconciler/nscert
// resources): `*.<namespace>.<domain>` under the default domain-template, which every Route of
// the namespace under that domain then uses instead of a Certificate of its own.
import type { V1Namespace } from '@kubernetes/client-node';
import {
  CERTIFICATE_CLASS_ANNOTATIONS,
  CertificateLabels,
  INGRESS_API_VERSION,
  type Certificate,
} from '../../../lib/apis/networking.ts';
import { renderTemplate } from '../../../lib/config/network.ts';

/** The wildcard name the domain-template gives a namespace, `{{.Name}}` being `*`. */
export function wildcardDnsName(domainTemplate: string, domain: string, namespace: string): string {
  const name = renderTemplate(domainTemplate, { Name: '*', Namespace: namespace, Domain: domain });
  if (!/^\*\..+$/.test(name))
    throw new Error(
      `domain-template gives namespace ${namespace} the wildcard name ${JSON.stringify(name)}, which does not start with "*."`,
    );
  return name;
}

/** Upstream's name for it: the wildcard name without its `*.`. */
export const wildcardCertificateName = (dnsName: string) => dnsName.slice(dnsName.indexOf('.') + 1);

export function makeWildcardCertificate(
  namespace: V1Namespace,
  dnsName: string,
  domain: string,
  certificateClass: string,
): Certificate {
  const name = wildcardCertificateName(dnsName);
  return {
    apiVersion: INGRESS_API_VERSION,
    kind: 'Certificate',
    metadata: {
      name,
      namespace: namespace.metadata?.name ?? '',
      labels: { [CertificateLabels.wildcardDomain]: domain },
      annotations: { [CERTIFICATE_CLASS_ANNOTATIONS[0]]: certificateClass },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          name: namespace.metadata?.name ?? '',
          uid: namespace.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { dnsNames: [dnsName], secretName: name },
  };
}
