// The networking.internal.knative.dev Ingress of a Route (upstream pkg/reconciler/route/resources/ingress.go).
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { Labels, type Route } from '../../../lib/apis/serving.ts';
import type { DomainConfig } from '../../../lib/config/domain.ts';
import type { Features } from '../../../lib/config/features.ts';
import type { NetworkConfig } from '../../../lib/config/network.ts';
import { canonicalHeaderName, HopHeaders } from '../../../lib/hop.ts';
import { DEFAULT_TARGET, type RevisionTarget } from '../traffic.ts';
import { clusterLocalHosts, externalHost, isClusterLocal, targetHost, type RouteMeta } from './domains.ts';

export const Headers = {
  revision: canonicalHeaderName(HopHeaders.revision),
  namespace: canonicalHeaderName(HopHeaders.revisionNamespace),
  tag: 'Knative-Serving-Tag',
  defaultRoute: 'Knative-Serving-Default-Route',
} as const;

export const INGRESS_CLASS_ANNOTATION = 'networking.knative.dev/ingress.class';

export interface IngressSplit {
  serviceNamespace: string;
  serviceName: string;
  servicePort: number;
  percent: number;
  appendHeaders: Record<string, string>;
}
export interface IngressPath {
  headers?: Record<string, { exact: string }>;
  appendHeaders?: Record<string, string>;
  rewriteHost?: string;
  splits: IngressSplit[];
}
export interface IngressRule {
  hosts: string[];
  visibility: 'ExternalIP' | 'ClusterLocal';
  http: { paths: IngressPath[] };
}
export interface IngressTLS {
  hosts: string[];
  secretName: string;
  secretNamespace: string;
}
export type HttpOption = 'Enabled' | 'Redirected' | '';

export interface Ingress {
  apiVersion: 'networking.internal.knative.dev/v1alpha1';
  kind: 'Ingress';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: ReturnType<typeof controllerReference>[];
  };
  spec: { httpOption: HttpOption; tls?: IngressTLS[]; rules: IngressRule[] };
}

export interface IngressConfig {
  network: NetworkConfig;
  domains: DomainConfig;
  features: Features;
}

/** config-network http-protocol as a KIngress httpOption: Disabled leaves it empty. */
export const httpOptionOf = (network: NetworkConfig): HttpOption =>
  network.httpProtocol === 'Disabled' ? '' : network.httpProtocol;

function splits(namespace: string, targets: RevisionTarget[]): IngressSplit[] {
  return targets
    .filter((t) => t.percent > 0)
    .map((t) => ({
      serviceNamespace: namespace,
      serviceName: t.revisionName,
      // The revision's public Service: 80 speaks HTTP/1, 81 h2c.
      servicePort: t.protocol === 'h2c' ? 81 : 80,
      percent: t.percent,
      appendHeaders: { [Headers.revision]: t.revisionName, [Headers.namespace]: namespace },
    }));
}

export function makeIngress(route: Route, targets: Map<string, RevisionTarget[]>, config: IngressConfig): Ingress {
  const meta = routeMeta(route);
  const tagHeaderRouting = config.features['tag-header-based-routing'] === 'Enabled';
  const names = [...targets.keys()].sort();
  const tags = names.filter((n) => n !== DEFAULT_TARGET);
  const rules: IngressRule[] = [];
  const tagToHost: Record<string, string[]> = {};

  for (const name of names) {
    const own = splits(meta.namespace, targets.get(name) ?? []);
    const mainPath = (): IngressPath => {
      if (!tagHeaderRouting) return { splits: own };
      return {
        appendHeaders: name === DEFAULT_TARGET ? { [Headers.defaultRoute]: 'true' } : { [Headers.tag]: name },
        splits: own,
      };
    };
    // With tag-header routing, the route's own hosts also serve each tag when asked by header.
    const headerPaths = (): IngressPath[] =>
      tagHeaderRouting && name === DEFAULT_TARGET
        ? tags.map((tag) => ({
            headers: { [Headers.tag]: { exact: tag } },
            appendHeaders: { [Headers.tag]: tag },
            splits: splits(meta.namespace, targets.get(tag) ?? []),
          }))
        : [];
    rules.push({
      hosts: clusterLocalHosts(meta, name, config.network),
      visibility: 'ClusterLocal',
      http: { paths: [...headerPaths(), mainPath()] },
    });
    const external = externalHost(meta, name, config.network, config.domains);
    if (external) {
      rules.push({ hosts: [external], visibility: 'ExternalIP', http: { paths: [...headerPaths(), mainPath()] } });
      if (name !== DEFAULT_TARGET) tagToHost[name] = [external];
    }
  }

  const annotations: Record<string, string> = {
    ...route.metadata?.annotations,
    [INGRESS_CLASS_ANNOTATION]: route.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION] ?? config.network.ingressClass,
  };
  if (Object.keys(tagToHost).length > 0)
    annotations['networking.internal.knative.dev/tag-to-host'] = JSON.stringify(tagToHost);
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];

  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      labels: {
        ...route.metadata?.labels,
        [Labels.route]: meta.name,
        'serving.knative.dev/routeNamespace': meta.namespace,
      },
      annotations,
      ownerReferences: [controllerReference(route)],
    },
    spec: {
      httpOption: httpOptionOf(config.network),
      rules,
    },
  };
}

/** The Route's URL: its external host, or its cluster-local one. */
export function routeUrl(route: Route, config: IngressConfig, tag = DEFAULT_TARGET): string {
  const meta = routeMeta(route);
  const scheme = isClusterLocal(meta, config.domains) ? 'http' : config.network.defaultExternalScheme;
  return `${scheme}://${targetHost(meta, tag, config.network, config.domains)}`;
}

export const routeMeta = (route: Route): RouteMeta => ({
  name: route.metadata?.name ?? '',
  namespace: route.metadata?.namespace ?? '',
  labels: route.metadata?.labels,
});
