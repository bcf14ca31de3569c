// The networking.internal.knative.dev Ingress of a Route (upstream pkg/reconciler/route/resources/ingress.go).
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import {
  CERTIFICATE_CLASS_ANNOTATIONS,
  INGRESS_API_VERSION,
  INGRESS_CLASS_ANNOTATION,
  type HttpOption,
  type Ingress,
  type IngressPath,
  type IngressRule,
  type IngressSplit,
  type IngressTLS,
} from '../../../lib/apis/networking.ts';
import { Labels, type Route } from '../../../lib/apis/serving.ts';
import type { DomainConfig } from '../../../lib/config/domain.ts';
import type { Features } from '../../../lib/config/features.ts';
import type { NetworkConfig } from '../../../lib/config/network.ts';
import { buildRollout, rolledOutSplits, ROLLOUT_ANNOTATION, serializeRollout, type Rollout } from '../rollout.ts';
import { canonicalHeaderName, HopHeaders } from '../../../lib/hop.ts';
import { DEFAULT_TARGET, type RevisionTarget } from '../traffic.ts';
import { clusterLocalHosts, externalHost, isClusterLocal, targetHost, type RouteMeta } from './domains.ts';

export const Headers = {
  revision: canonicalHeaderName(HopHeaders.revision),
  namespace: canonicalHeaderName(HopHeaders.revisionNamespace),
  tag: 'Knative-Serving-Tag',
  defaultRoute: 'Knative-Serving-Default-Route',
} as const;

export interface IngressConfig {
  network: NetworkConfig;
  domains: DomainConfig;
  features: Features;
}

/** config-network http-protocol as a KIngress httpOption: Disabled leaves it empty. */
export const httpOptionOf = (network: NetworkConfig): HttpOption =>
  network.httpProtocol === 'Disabled' ? '' : network.httpProtocol;

/** Upstream's keys for a Route's own http-protocol, in its order of precedence. */
export const HTTP_PROTOCOL_ANNOTATIONS = ['networking.knative.dev/httpOption', 'networking.knative.dev/http-protocol'];

/**
 * A Route's or DomainMapping's http-protocol annotation (Enabled or Redirected, in any case), else
 * config-network's (upstream GetHTTPOption); any other value fails the reconcile, as upstream's does.
 */
export function annotatedHttpOption(annotations: Record<string, string> = {}, network: NetworkConfig): HttpOption {
  const key = HTTP_PROTOCOL_ANNOTATIONS.find((k) => annotations[k]);
  if (key === undefined) return httpOptionOf(network);
  const value = annotations[key]!.toLowerCase();
  if (value === 'enabled') return 'Enabled';
  if (value === 'redirected') return 'Redirected';
  throw new Error(`annotation ${key}: ${JSON.stringify(annotations[key])} must be Enabled or Redirected`);
}

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

/**
 * The rollout, when given, is what is served (a new Ingress starts from none) and is recorded on
 * it; `tls` lists the hosts served over TLS with their certificates' Secrets.
 */
export function makeIngress(
  route: Route,
  targets: Map<string, RevisionTarget[]>,
  config: IngressConfig,
  rollout: Rollout = buildRollout(targets),
  tls: IngressTLS[] = [],
): Ingress {
  const meta = routeMeta(route);
  const served = (name: string) => splits(meta.namespace, rolledOutSplits(name, targets.get(name) ?? [], rollout));
  const tagHeaderRouting = config.features['tag-header-based-routing'] === 'Enabled';
  const names = [...targets.keys()].sort();
  const tags = names.filter((n) => n !== DEFAULT_TARGET);
  const rules: IngressRule[] = [];
  const tagToHost: Record<string, string[]> = {};

  for (const name of names) {
    const own = served(name);
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
            splits: served(tag),
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

  const own = route.metadata?.annotations ?? {};
  const ingressClass =
    own[INGRESS_CLASS_ANNOTATION] || own[INGRESS_CLASS_ALT_ANNOTATION] || config.network.ingressClass;
  const annotations = propagatedAnnotations(route, { [INGRESS_CLASS_ANNOTATION]: ingressClass });
  if (Object.keys(tagToHost).length > 0)
    annotations['networking.internal.knative.dev/tag-to-host'] = JSON.stringify(tagToHost);
  annotations[ROLLOUT_ANNOTATION] = serializeRollout(rollout);

  return {
    apiVersion: INGRESS_API_VERSION,
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
      httpOption: annotatedHttpOption(route.metadata?.annotations, config.network),
      rules,
      ...(tls.length > 0 ? { tls } : {}),
    },
  };
}

/** Upstream's alternative spelling of the ingress class key, read after the first. */
const INGRESS_CLASS_ALT_ANNOTATION = 'networking.knative.dev/ingress-class';

/**
 * Annotations of a Route's (or DomainMapping's) children: `base`, overridden by the owner's own, without kubectl's
 * record and the alternative spellings of the class keys (upstream's ExcludedAnnotations).
 */
const NOT_PROPAGATED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  CERTIFICATE_CLASS_ANNOTATIONS[1],
  INGRESS_CLASS_ALT_ANNOTATION,
]);
export function propagatedAnnotations(
  owner: { metadata?: { annotations?: Record<string, string> } },
  base: Record<string, string>,
): Record<string, string> {
  const merged = { ...base, ...owner.metadata?.annotations };
  return Object.fromEntries(Object.entries(merged).filter(([key]) => !NOT_PROPAGATED.has(key)));
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
