// The Route's Knative Certificates on the API server (upstream route.go externalDomainTLS,
// clusterLocalDomainTLS and accessor/networking ReconcileCertificate): each desired one created or
// brought in line, a namespace's matching wildcard Certificate used instead where there is one,
// and those of hosts the Route no longer has deleted.
import type { KubernetesObject } from '@kubernetes/client-node';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { CertificateLabels, type Certificate, type CertificateType } from '../../lib/apis/networking.ts';
import { Labels, type Route } from '../../lib/apis/serving.ts';
import { domainForLabels } from '../../lib/config/domain.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { type ChildResult, reconcileChild } from '../../lib/reconciler/child.ts';
import { deleteObject } from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { certificateClassOf, makeClusterLocalCertificate, makeExternalCertificates } from './resources/certificate.ts';
import { clusterLocalHosts, externalHost } from './resources/domains.ts';
import { routeMeta, type IngressConfig } from './resources/ingress.ts';
import { externalDomainTlsEnabled, matchingWildcardCertificate, type CertificateOutcome } from './tls.ts';

/**
 * A Knative Certificate an owner (Route or DomainMapping) wants, created or brought in line: its
 * labels and annotations are the owner's wholesale, as upstream's ReconcileCertificate does.
 */
export function reconcileCertificateChild(
  deps: RouteCertificatesDeps,
  owner: KubernetesObject,
  desired: Certificate,
  ctx: ReconcileContext,
): Promise<ChildResult<Certificate>> {
  return reconcileChild<Certificate>({
    client: deps.client,
    kind: Kinds.certificate,
    description: 'Certificate',
    owner,
    existing: deps.certificates.get(`${desired.metadata?.namespace}/${desired.metadata?.name}`),
    desired: () => desired,
    metadata: 'dictate',
    events: ctx.events,
    createdEvent: true,
    onAlreadyExists: 'wait',
  });
}

export interface RouteCertificatesDeps {
  client: KubeRest;
  certificates: Lister<Certificate>;
}

export function routeCertificates(deps: RouteCertificatesDeps) {
  async function reconcileOne(
    route: Route,
    desired: Certificate,
    kind: 'external' | 'clusterLocal',
    ctx: ReconcileContext,
  ): Promise<CertificateOutcome> {
    const name = desired.metadata?.name ?? '';
    const result = await reconcileCertificateChild(deps, route, desired, ctx);
    if (result.state === 'notOwned') return { kind: 'notOwned', name };
    // Created a moment ago and not cached yet: not ready, as a new one would be.
    const certificate = result.state === 'pending' ? desired : result.child;
    return { kind, certificate, hosts: desired.spec.dnsNames };
  }

  /** The Route's Certificates of a type whose names it no longer serves (upstream getOrphanRouteCerts). */
  async function deleteOrphans(route: Route, type: CertificateType, used: ReadonlySet<string>, ctx: ReconcileContext) {
    const namespace = route.metadata?.namespace ?? '';
    for (const certificate of deps.certificates.listNamespace(namespace)) {
      const labels = certificate.metadata?.labels ?? {};
      if (labels[Labels.route] !== route.metadata?.name || labels[CertificateLabels.type] !== type) continue;
      if (!isControlledBy(certificate, route) || certificate.spec.dnsNames.some((n) => used.has(n))) continue;
      const name = `${namespace}/${certificate.metadata?.name}`;
      try {
        await deleteObject(deps.client, Kinds.certificate, certificate);
        void ctx.events.event(certificate, 'Normal', 'Deleted', `Deleted orphaned Knative Certificate ${name}`);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        void ctx.events.event(
          certificate,
          'Normal',
          'DeleteFailed',
          `Failed to delete orphaned Knative Certificate ${name}: ${reason}`,
        );
      }
    }
  }

  /**
   * The Certificates of the Route's target names under the TLS settings that apply to it, in
   * upstream's order: external hosts (sorted), then each target name's cluster-local hosts.
   */
  return async function reconcileCertificates(
    route: Route,
    targetNames: readonly string[],
    config: IngressConfig,
    ctx: ReconcileContext,
  ): Promise<CertificateOutcome[]> {
    const meta = routeMeta(route);
    const certificateClass = certificateClassOf(route, config.network.certificateClass);
    const outcomes: CertificateOutcome[] = [];

    const hosts = new Map<string, string>();
    if (externalDomainTlsEnabled(route.metadata?.annotations, config.network)) {
      for (const name of targetNames) {
        const host = externalHost(meta, name, config.network, config.domains);
        if (host) hosts.set(host, name);
      }
    }
    const domain = domainForLabels(config.domains, meta.labels ?? {});
    const inNamespace = deps.certificates.listNamespace(meta.namespace);
    for (const desired of makeExternalCertificates(route, hosts, certificateClass, domain)) {
      const wildcard = matchingWildcardCertificate(desired.spec.dnsNames, inNamespace, domain);
      outcomes.push(
        wildcard
          ? { kind: 'external', certificate: wildcard, hosts: desired.spec.dnsNames }
          : await reconcileOne(route, desired, 'external', ctx),
      );
    }
    await deleteOrphans(route, 'external-domain', new Set(hosts.keys()), ctx);

    const localHosts = new Set<string>();
    if (config.network.clusterLocalDomainTls) {
      for (const name of targetNames) {
        const names = clusterLocalHosts(meta, name, config.network);
        for (const host of names) localHosts.add(host);
        const desired = makeClusterLocalCertificate(route, name, names, certificateClass);
        outcomes.push(await reconcileOne(route, desired, 'clusterLocal', ctx));
      }
    }
    await deleteOrphans(route, 'cluster-local-domain', localHosts, ctx);
    return outcomes;
  };
}
