// The Kubernetes Service of each target name of a Route (upstream
// pkg/reconciler/route/resources/service.go): named like the target's host (the route, or
// `<tag>-<route>`), so `<name>.<ns>.svc.<cluster-domain>` (the Route's status.address) resolves
// inside the cluster and no other Service can take the name. Pure.
import type { V1Service } from '@kubernetes/client-node';
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import { Labels, type Route } from '../../../lib/apis/serving.ts';
import { hostName, targetHost } from './domains.ts';
import { routeMeta, type IngressConfig } from './ingress.ts';

/** Where an Ingress's load balancer is reached, as its implementation reports it. */
export interface LoadBalancerIngress {
  domainInternal?: string;
  domain?: string;
  ip?: string;
  meshOnly?: boolean;
}
export interface IngressLoadBalancers {
  publicLoadBalancer?: { ingress?: LoadBalancerIngress[] };
  privateLoadBalancer?: { ingress?: LoadBalancerIngress[] };
}

/**
 * The host name of the Ingress's load balancer. The private one wins when there is one: this
 * Service only serves callers inside the cluster. Our gateway publishes names; an address
 * (ip, meshOnly) or several balancers leave the Service on its placeholder target.
 */
function loadBalancerHost(status: IngressLoadBalancers | undefined): string | undefined {
  const balancers = status?.privateLoadBalancer?.ingress?.length
    ? status.privateLoadBalancer.ingress
    : status?.publicLoadBalancer?.ingress;
  if (balancers?.length !== 1) return undefined;
  return balancers[0]!.domainInternal || balancers[0]!.domain || undefined;
}

/**
 * The Service of one target name ('' for the route itself): an ExternalName to the Ingress's
 * load balancer once it reports one, and until then to the target's own host.
 */
export function makeRouteService(
  route: Route,
  targetName: string,
  config: IngressConfig,
  ingress?: IngressLoadBalancers,
): V1Service {
  const meta = routeMeta(route);
  // Not inherited, as upstream, where the visibility label on one tag's Service makes that tag alone cluster-local.
  const routeLabels = Object.entries(route.metadata?.labels ?? {}).filter(([key]) => key !== Labels.visibility);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: hostName(meta, targetName, config.network),
      namespace: meta.namespace,
      labels: { ...Object.fromEntries(routeLabels), [Labels.route]: meta.name },
      annotations: { ...route.metadata?.annotations },
      ownerReferences: [controllerReference(route)],
    },
    spec: {
      type: 'ExternalName',
      externalName: loadBalancerHost(ingress) ?? targetHost(meta, targetName, config.network, config.domains),
      sessionAffinity: 'None',
      ports: [{ name: 'http2', appProtocol: 'kubernetes.io/h2c', protocol: 'TCP', port: 80, targetPort: 80 }],
    },
  };
}
