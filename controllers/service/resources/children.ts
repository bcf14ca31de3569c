// A Service's Configuration and Route (upstream pkg/reconciler/service/resources/*.go).
import { controllerReference } from '../../../lib/apis/kmeta.ts';
import {
  Annotations,
  Labels,
  type Configuration,
  type Route,
  type Service,
  type TrafficTarget,
} from '../../../lib/apis/serving.ts';

const NOT_PROPAGATED = new Set<string>([
  Annotations.lastAppliedConfiguration,
  Annotations.rolloutDuration,
  Annotations.rolloutDurationLegacy,
]);

function propagatedAnnotations(svc: Service, extra: Record<string, string> = {}): Record<string, string> {
  const kept = Object.entries(svc.metadata?.annotations ?? {}).filter(([key]) => !NOT_PROPAGATED.has(key));
  return { ...Object.fromEntries(kept), ...extra };
}

/** Adds a route name to a comma-joined, sorted set of route names. */
export function withRoute(routes: string | undefined, route: string): string {
  return [...new Set([...(routes ? routes.split(',') : []), route])].sort().join(',');
}

export function makeConfiguration(svc: Service, existing?: Configuration): Configuration {
  const name = svc.metadata?.name ?? '';
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Configuration',
    metadata: {
      name,
      namespace: svc.metadata?.namespace,
      labels: { ...svc.metadata?.labels, [Labels.service]: name, [Labels.serviceUID]: svc.metadata?.uid ?? '' },
      annotations: propagatedAnnotations(svc, {
        [Annotations.routes]: withRoute(existing?.metadata?.annotations?.[Annotations.routes], name),
      }),
      ownerReferences: [controllerReference(svc)],
    },
    spec: structuredClone({ template: svc.spec?.template }) as Configuration['spec'],
  };
}

export function makeRoute(svc: Service): Route {
  const name = svc.metadata?.name ?? '';
  const traffic = (svc.spec?.traffic ?? [{ percent: 100, latestRevision: true }]).map((target): TrafficTarget => {
    const copy = structuredClone(target);
    // A Service's targets without a revision follow its own Configuration.
    if (!copy.revisionName) (copy as TrafficTarget & { configurationName?: string }).configurationName = name;
    return copy;
  });
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Route',
    metadata: {
      name,
      namespace: svc.metadata?.namespace,
      labels: { ...svc.metadata?.labels, [Labels.service]: name },
      annotations: propagatedAnnotations(svc, rolloutAnnotation(svc)),
      ownerReferences: [controllerReference(svc)],
    },
    spec: { traffic } as Route['spec'],
  };
}

/** A rollout duration set on the Service governs its Route. */
function rolloutAnnotation(svc: Service): Record<string, string> {
  const annotations = svc.metadata?.annotations ?? {};
  const value = annotations[Annotations.rolloutDuration] ?? annotations[Annotations.rolloutDurationLegacy];
  return value === undefined ? {} : { [Annotations.rolloutDuration]: value };
}
