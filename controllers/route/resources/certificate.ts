// The Knative Certificates of a Route (upstream pkg/reconciler/route/resources/certificate.go): one
// per external host (the route's own and each tag's) under external-domain-tls, one per target
// name for its cluster-local hosts under cluster-local-domain-tls, and the KIngress tls entry
// each becomes once its Secret holds a certificate.
import { controllerReference, type OwnerLike } from '../../../lib/apis/kmeta.ts';
import {
  CERTIFICATE_CLASS_ANNOTATIONS,
  CertificateLabels,
  INGRESS_API_VERSION,
  type Certificate,
  type CertificateType,
  type IngressTLS,
} from '../../../lib/apis/networking.ts';
import { Labels, type Route } from '../../../lib/apis/serving.ts';
import { CLUSTER_DOMAIN } from '../../../lib/config/domain.ts';
import { DEFAULT_TARGET } from '../traffic.ts';
import { propagatedAnnotations } from './ingress.ts';

/** Suffix of a cluster-local Certificate's name, beside the external one of the same target. */
const LOCAL_SUFFIX = '-local';

/** Adler-32 (RFC 1950), which upstream hashes a tag with to keep a Certificate's name short. */
export function adler32(text: string): number {
  const MOD = 65521;
  let a = 1;
  let b = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    a = (a + byte) % MOD;
    b = (b + a) % MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * `route-<uid>`, and `-<adler32 of the tag>` for a tag: within 63 characters whatever the names,
 * as upstream's, so a Certificate made by Knative before is adopted rather than duplicated.
 */
export function certificateName(route: Route, tag: string): string {
  const base = `route-${route.metadata?.uid ?? ''}`;
  return tag === DEFAULT_TARGET ? base : `${base}-${adler32(tag)}`;
}

/** The class the Route's annotation names, else config-network's certificate-class. */
export function certificateClassOf(route: Route, defaultClass: string): string {
  const annotations = route.metadata?.annotations ?? {};
  return CERTIFICATE_CLASS_ANNOTATIONS.map((key) => annotations[key]).find((value) => value) ?? defaultClass;
}

/** What a Certificate is made for: a Route or a DomainMapping, labelled `ownerLabel: <its name>` on it. */
interface CertificateOwner extends OwnerLike {
  metadata?: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string> };
}

/** A Certificate of `owner`, with the class annotation and the owner's own annotations (which win, as upstream's union has them). */
export function makeCertificate(
  owner: CertificateOwner,
  ownerLabel: string,
  name: string,
  type: CertificateType,
  spec: Certificate['spec'],
  certificateClass: string,
): Certificate {
  return {
    apiVersion: INGRESS_API_VERSION,
    kind: 'Certificate',
    metadata: {
      name,
      namespace: owner.metadata?.namespace ?? '',
      labels: { [ownerLabel]: owner.metadata?.name ?? '', [CertificateLabels.type]: type },
      annotations: propagatedAnnotations(owner, { [CERTIFICATE_CLASS_ANNOTATIONS[0]]: certificateClass }),
      ownerReferences: [controllerReference(owner)],
    },
    spec,
  };
}

/**
 * One Certificate per external host, sorted by host. `hosts` maps each host to its target name
 * ('' for the route's own); `domain` is the route's domain from config-domain.
 */
export function makeExternalCertificates(
  route: Route,
  hosts: ReadonlyMap<string, string>,
  certificateClass: string,
  domain: string,
): Certificate[] {
  return [...hosts.keys()].sort().map((host) => {
    const name = certificateName(route, hosts.get(host)!);
    return makeCertificate(
      route,
      Labels.route,
      name,
      'external-domain',
      { dnsNames: [host], domain, secretName: name },
      certificateClass,
    );
  });
}

/** The Certificate of a target name's cluster-local hosts (name.ns, name.ns.svc, name.ns.svc.<cluster domain>). */
export function makeClusterLocalCertificate(
  route: Route,
  tag: string,
  hosts: readonly string[],
  certificateClass: string,
): Certificate {
  const name = certificateName(route, tag) + LOCAL_SUFFIX;
  return makeCertificate(
    route,
    Labels.route,
    name,
    'cluster-local-domain',
    { dnsNames: [...hosts].sort(), domain: `svc.${CLUSTER_DOMAIN}`, secretName: name },
    certificateClass,
  );
}

/** The KIngress tls entry that serves `hosts` with the certificate's Secret. */
export function makeIngressTls(certificate: Certificate, hosts: readonly string[]): IngressTLS {
  return {
    hosts: [...hosts].sort(),
    secretName: certificate.spec.secretName,
    secretNamespace: certificate.metadata?.namespace ?? '',
  };
}
