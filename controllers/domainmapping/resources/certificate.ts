// A DomainMapping's Knative Certificate under external-domain-tls (upstream domainmapping
// resources/certificate.go): for its domain alone, named after the mapping.
import { DomainMappingLabels, type DomainMappingObject } from '../../../lib/apis/domainMapping.ts';
import { childName } from '../../../lib/apis/kmeta.ts';
import type { Certificate } from '../../../lib/apis/networking.ts';
import { makeCertificate } from '../../route/resources/certificate.ts';

/** Labelled `serving.knative.dev/domainMappingUID: <the mapping's name>`, as upstream labels it. */
export function makeDomainMappingCertificate(dm: DomainMappingObject, certificateClass: string): Certificate {
  const domain = dm.metadata?.name ?? '';
  const name = childName(domain, '');
  return makeCertificate(
    dm,
    DomainMappingLabels.uid,
    name,
    'external-domain',
    { dnsNames: [domain], domain, secretName: name },
    certificateClass,
  );
}
