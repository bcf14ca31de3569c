// Where each kind the reconcilers touch lives in the API, so informers and writes agree on paths.
import type { KubernetesObject } from '@kubernetes/client-node';

export interface Kind {
  /** `/apis/serving.knative.dev/v1` or `/api/v1`. */
  base: string;
  plural: string;
  /** Cluster-scoped kinds are listed and watched across the cluster even by a namespaced controller. */
  clusterScoped?: boolean;
}

export const Kinds = {
  service: { base: '/apis/serving.knative.dev/v1', plural: 'services' },
  configuration: { base: '/apis/serving.knative.dev/v1', plural: 'configurations' },
  revision: { base: '/apis/serving.knative.dev/v1', plural: 'revisions' },
  route: { base: '/apis/serving.knative.dev/v1', plural: 'routes' },
  podAutoscaler: { base: '/apis/autoscaling.internal.knative.dev/v1alpha1', plural: 'podautoscalers' },
  domainMapping: { base: '/apis/serving.knative.dev/v1beta1', plural: 'domainmappings' },
  ingress: { base: '/apis/networking.internal.knative.dev/v1alpha1', plural: 'ingresses' },
  clusterDomainClaim: {
    base: '/apis/networking.internal.knative.dev/v1alpha1',
    plural: 'clusterdomainclaims',
    clusterScoped: true,
  },
  certificate: { base: '/apis/networking.internal.knative.dev/v1alpha1', plural: 'certificates' },
  serverlessService: { base: '/apis/networking.internal.knative.dev/v1alpha1', plural: 'serverlessservices' },
  horizontalPodAutoscaler: { base: '/apis/autoscaling/v2', plural: 'horizontalpodautoscalers' },
  deployment: { base: '/apis/apps/v1', plural: 'deployments' },
  endpoints: { base: '/api/v1', plural: 'endpoints' },
  pod: { base: '/api/v1', plural: 'pods' },
  coreService: { base: '/api/v1', plural: 'services' },
  secret: { base: '/api/v1', plural: 'secrets' },
  namespace: { base: '/api/v1', plural: 'namespaces', clusterScoped: true },
  certManagerCertificate: { base: '/apis/cert-manager.io/v1', plural: 'certificates' },
} as const satisfies Record<string, Kind>;

/** The collection, across all namespaces when namespace is undefined. */
export function collectionPath(kind: Kind, namespace?: string): string {
  return namespace ? `${kind.base}/namespaces/${namespace}/${kind.plural}` : `${kind.base}/${kind.plural}`;
}

export function objectPath(kind: Kind, object: KubernetesObject): string {
  return `${collectionPath(kind, object.metadata?.namespace)}/${object.metadata?.name}`;
}
