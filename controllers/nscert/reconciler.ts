// A wildcard Knative Certificate per wildcard domain (config-domain) in each namespace that
// config-network's namespace-wildcard-cert-selector selects, deleted when the namespace or domain
// leaves it (upstream pkg/reconciler/nscert). Routes there under external-domain-tls use it
// instead of a Certificate per host, saving an issuance per Route.
import type { V1Namespace } from '@kubernetes/client-node';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { matchesSelector } from '../../lib/apis/labelSelector.ts';
import { CERTIFICATE_CLASS_ANNOTATIONS, CertificateLabels, type Certificate } from '../../lib/apis/networking.ts';
import { CLUSTER_DOMAIN, type DomainConfig } from '../../lib/config/domain.ts';
import type { NetworkConfig } from '../../lib/config/network.ts';
import type { EventSink } from '../../lib/kube/events.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import type { Logger } from '../../lib/log.ts';
import { createObject, deleteObject, sameJson, updateObject } from '../../lib/reconciler/crud.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { makeWildcardCertificate, wildcardDnsName } from './resources/certificate.ts';

export interface NamespaceCertificateDeps {
  client: KubeRest;
  namespaces: Lister<V1Namespace>;
  certificates: Lister<Certificate>;
  config(): { network: NetworkConfig; domain: DomainConfig };
  events: EventSink;
}

/**
 * The domains whose wildcard Certificate the namespace should have: none unless the selector picks
 * it. Without a default domain (one without a selector) Routes fall back to svc.<cluster domain>,
 * which upstream's config-domain then counts as a wildcard domain like any default.
 */
export function wildcardDomainsFor(namespace: V1Namespace, network: NetworkConfig, domains: DomainConfig): Set<string> {
  const selector = network.namespaceWildcardCertSelector;
  if (selector === undefined || !matchesSelector(selector, namespace.metadata?.labels)) return new Set();
  const wanted = new Set(domains.filter((d) => d.wildcard).map((d) => d.domain));
  if (!domains.some((d) => Object.keys(d.selector).length === 0)) wanted.add(`svc.${CLUSTER_DOMAIN}`);
  return wanted;
}

export function namespaceCertificateReconciler(deps: NamespaceCertificateDeps) {
  const classOf = (namespace: V1Namespace, network: NetworkConfig) => {
    const annotations = namespace.metadata?.annotations ?? {};
    return CERTIFICATE_CLASS_ANNOTATIONS.map((k) => annotations[k]).find((v) => v) ?? network.certificateClass;
  };

  async function reconcileWildcard(
    namespace: V1Namespace,
    existing: Certificate[],
    domain: string,
    network: NetworkConfig,
  ) {
    const name = namespace.metadata?.name ?? '';
    const dnsName = wildcardDnsName(network.domainTemplate, domain, name);
    // Any wildcard Certificate for the name will do, whoever made it.
    if (existing.some((c) => c.spec.dnsNames.includes(dnsName))) return;
    const desired = makeWildcardCertificate(namespace, dnsName, domain, classOf(namespace, network));
    const owned = existing.find(
      (c) => isControlledBy(c, namespace) && c.metadata?.labels?.[CertificateLabels.wildcardDomain] === domain,
    );
    const description = `Knative Certificate ${name}/${desired.metadata?.name}`;
    if (!owned) {
      const created = await createObject(deps.client, Kinds.certificate, desired);
      void deps.events.event(created, 'Normal', 'Created', `Created ${description}`);
    } else if (!sameJson(owned.spec, desired.spec)) {
      const labels = { ...owned.metadata?.labels, ...desired.metadata?.labels };
      await updateObject(deps.client, Kinds.certificate, {
        ...owned,
        metadata: { ...owned.metadata, labels },
        spec: desired.spec,
      });
      void deps.events.event(owned, 'Normal', 'Updated', `Updated Spec for ${description}`);
    }
  }

  return async (key: string, _log: Logger): Promise<void> => {
    const namespace = deps.namespaces.get(key);
    if (!namespace || namespace.metadata?.deletionTimestamp) return;
    const { network, domain } = deps.config();
    const existing = deps.certificates
      .listNamespace(key)
      .filter((c) => c.metadata?.labels?.[CertificateLabels.wildcardDomain] !== undefined);
    const wanted = wildcardDomainsFor(namespace, network, domain);
    for (const d of wanted) await reconcileWildcard(namespace, existing, d, network);
    for (const certificate of existing) {
      if (!isControlledBy(certificate, namespace)) continue;
      if (wanted.has(certificate.metadata?.labels?.[CertificateLabels.wildcardDomain] ?? '')) continue;
      await deleteObject(deps.client, Kinds.certificate, certificate);
      void deps.events.event(
        certificate,
        'Normal',
        'Deleted',
        `Deleted Knative Certificate ${key}/${certificate.metadata?.name}`,
      );
    }
  };
}
