// KIngress objects shaped as the Route reconciler makes them (upstream
// pkg/reconciler/route/resources/ingress.go), and backend states for them.
import type { BackendAddress, BackendState, Ingress } from '../gateway/routing/table.ts';
import { backendKey } from '../gateway/routing/table.ts';

export interface RevisionTarget {
  revision: string;
  percent: number;
}

export interface RouteIngressOptions {
  namespace?: string;
  name: string;
  /** Target name → revisions; '' is the default target, any other name is a tag. */
  targets: Record<string, RevisionTarget[]>;
  domain?: string;
  clusterLocal?: boolean;
  tagHeaderRouting?: boolean;
  creationTimestamp?: string;
}

type Rule = NonNullable<NonNullable<Ingress['spec']>['rules']>[number];
type Path = NonNullable<Rule['http']>['paths'][number];

export function routeIngress(options: RouteIngressOptions): Ingress {
  const { namespace = 'default', name, targets, domain = 'example.com' } = options;
  const basePath = (tag: string): Path => ({
    splits: targets[tag]!.filter((t) => t.percent > 0).map((t) => ({
      serviceNamespace: namespace,
      serviceName: t.revision,
      servicePort: 80,
      percent: t.percent,
      appendHeaders: { 'Knative-Serving-Revision': t.revision, 'Knative-Serving-Namespace': namespace },
    })),
  });
  const tags = Object.keys(targets).sort();
  const rules: Rule[] = [];
  for (const tag of tags) {
    const hostName = tag ? `${tag}-${name}` : name;
    const visibilities = options.clusterLocal ? ['ClusterLocal'] : ['ClusterLocal', 'ExternalIP'];
    for (const visibility of visibilities) {
      const path = basePath(tag);
      const paths = [path];
      if (options.tagHeaderRouting) {
        if (tag === '') {
          path.appendHeaders = { 'Knative-Serving-Default-Route': 'true' };
          paths.unshift(
            ...tags.slice(1).map((t) => ({ ...basePath(t), headers: { 'Knative-Serving-Tag': { exact: t } } })),
          );
        } else {
          path.appendHeaders = { 'Knative-Serving-Tag': tag };
        }
      }
      const hosts =
        visibility === 'ClusterLocal'
          ? [`${hostName}.${namespace}`, `${hostName}.${namespace}.svc`, `${hostName}.${namespace}.svc.cluster.local`]
          : [`${hostName}.${namespace}.${domain}`];
      rules.push({ hosts, visibility, http: { paths } });
    }
  }
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      namespace,
      name,
      ...(options.creationTimestamp ? { creationTimestamp: wireTimestamp(options.creationTimestamp) } : {}),
    },
    spec: { rules },
  };
}

/** An Ingress with one ExternalIP rule, for tests that care about paths rather than Route shapes. */
export function pathsIngress(name: string, hosts: string[], paths: Path[], namespace = 'default'): Ingress {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { namespace, name },
    spec: { rules: [{ hosts, visibility: 'ExternalIP', http: { paths } }] },
  };
}

export const split = (serviceName: string, percent: number, namespace = 'default'): Path['splits'][number] => ({
  serviceNamespace: namespace,
  serviceName,
  servicePort: 80,
  percent,
  appendHeaders: { 'Knative-Serving-Revision': serviceName },
});

export const addresses = (...hosts: string[]): BackendAddress[] => hosts.map((host) => ({ host, port: 8012 }));

/** Serve-mode state for every revision named, each with one endpoint named `<revision>-pod`. */
export function serving(revisions: string[], namespace = 'default'): Map<string, BackendState> {
  return new Map(
    revisions.map((revision) => [
      backendKey(namespace, revision, 80),
      { mode: 'serve', protocol: 'http1', endpoints: addresses(`${revision}-pod`) } satisfies BackendState,
    ]),
  );
}

/** A timestamp as the API sends it (a string), where client-node's types say Date. */
export const wireTimestamp = (rfc3339: string): Date => rfc3339 as unknown as Date;
