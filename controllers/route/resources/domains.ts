// Hosts of a route and its tags (upstream pkg/reconciler/route/domains/domains.go).
import { CLUSTER_DOMAIN, domainForLabels, type DomainConfig } from '../../../lib/config/domain.ts';
import { renderTemplate, type NetworkConfig } from '../../../lib/config/network.ts';
import { Labels } from '../../../lib/apis/serving.ts';

export interface RouteMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
}

/** The host name part for a target name: the route's name, or the tag template for a tag. */
export function hostName(route: RouteMeta, tag: string, network: NetworkConfig): string {
  return tag === '' ? route.name : renderTemplate(network.tagTemplate, { Tag: tag, Name: route.name });
}

export function isClusterLocal(route: RouteMeta, domains: DomainConfig): boolean {
  return (
    route.labels?.[Labels.visibility] === 'cluster-local' ||
    domainForLabels(domains, route.labels ?? {}) === `svc.${CLUSTER_DOMAIN}`
  );
}

/** The external host of a target name; cluster-local routes have none. */
export function externalHost(
  route: RouteMeta,
  tag: string,
  network: NetworkConfig,
  domains: DomainConfig,
): string | undefined {
  if (isClusterLocal(route, domains)) return undefined;
  const host = renderTemplate(network.domainTemplate, {
    Name: hostName(route, tag, network),
    Namespace: route.namespace,
    Domain: domainForLabels(domains, route.labels ?? {}),
  });
  if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(host)) {
    throw new Error(`domain-template produced ${JSON.stringify(host)}, which is not a fully qualified host name`);
  }
  return host;
}

/** Every name a target answers to inside the cluster: name.ns, name.ns.svc, name.ns.svc.<cluster-domain>. */
export function clusterLocalHosts(route: RouteMeta, tag: string, network: NetworkConfig): string[] {
  const base = `${hostName(route, tag, network)}.${route.namespace}`;
  return [base, `${base}.svc`, `${base}.svc.${CLUSTER_DOMAIN}`];
}

/** The host a target name is reached at: its external host, or its cluster-local one. */
export function targetHost(route: RouteMeta, tag: string, network: NetworkConfig, domains: DomainConfig): string {
  return externalHost(route, tag, network, domains) ?? clusterLocalHosts(route, tag, network)[2]!;
}
