// The Revision a Configuration stamps out for its current generation
// (upstream pkg/reconciler/configuration/resources/revision.go).
import { childName, controllerReference } from '../../../lib/apis/kmeta.ts';
import { Annotations, Labels, type Configuration, type Revision } from '../../../lib/apis/serving.ts';

/** `<config>-00001` for generation 1, unless the template names the revision. */
export function revisionName(cfg: Configuration): string {
  const byo = cfg.spec?.template?.metadata?.name;
  if (byo) return byo;
  return childName(cfg.metadata?.name ?? '', `-${String(cfg.metadata?.generation ?? 0).padStart(5, '0')}`);
}

export function makeRevision(cfg: Configuration, now: Date): Revision {
  const template = structuredClone(cfg.spec?.template ?? {}) as NonNullable<Configuration['spec']>['template'] & object;
  const labels: Record<string, string> = { ...template.metadata?.labels };
  const annotations: Record<string, string> = { ...template.metadata?.annotations };
  const configLabels = cfg.metadata?.labels ?? {};
  const routes = cfg.metadata?.annotations?.[Annotations.routes];

  labels[Labels.configuration] = cfg.metadata?.name ?? '';
  labels[Labels.configurationUID] = cfg.metadata?.uid ?? '';
  labels[Labels.configurationGeneration] = String(cfg.metadata?.generation ?? 0);
  for (const key of [Labels.service, Labels.serviceUID]) {
    const value = configLabels[key];
    if (value) labels[key] = value;
  }
  // A revision of a Configuration that routes already point at is routed from birth.
  labels[Labels.routingState] = routes ? 'active' : 'pending';
  annotations[Annotations.routingStateModified] = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const creator = cfg.metadata?.annotations?.[Annotations.lastModifier];
  if (creator) annotations[Annotations.creator] = creator;
  if (routes) annotations[Annotations.routes] = routes;

  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: {
      name: revisionName(cfg),
      namespace: cfg.metadata?.namespace,
      labels,
      annotations,
      ownerReferences: [controllerReference(cfg)],
    },
    spec: template.spec,
  };
}
