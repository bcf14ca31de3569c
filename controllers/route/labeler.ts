// Which revisions and configurations a Route sends traffic to, written on them as the
// `serving.knative.dev/routes` annotation and, for revisions, the routingState label
// (upstream pkg/reconciler/labeler). Pure: it returns the patches to apply.
import {
  Annotations,
  Labels,
  type TrafficTarget,
  type Route,
  type Revision,
  type Configuration,
} from '../../lib/apis/serving.ts';

export interface RoutingPatch {
  kind: 'revision' | 'configuration';
  name: string;
  patch: { metadata: { labels?: Record<string, string | null>; annotations: Record<string, string | null> } };
}

interface Referenced {
  revisions: Set<string>;
  configurations: Set<string>;
}

export interface ReferenceLookup {
  configuration(name: string): Configuration | undefined;
  revision(name: string): Revision | undefined;
}

const controllingConfiguration = (rev: Revision | undefined) =>
  rev?.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === 'Configuration')?.name;

/**
 * Revisions named in spec or status traffic, and for each Configuration target its latest
 * created revision, so a revision about to take traffic is kept warm before it does. A
 * Configuration counts as referenced through any of its revisions too, as upstream has it: a
 * Service that pins only revisions still routes to its own Configuration, whose routes
 * annotation the Service reconciler keeps.
 */
export function referencedBy(route: Route, lookup: ReferenceLookup): Referenced {
  const revisions = new Set<string>();
  const configs = new Set<string>();
  const addRevision = (name: string) => {
    revisions.add(name);
    const owner = controllingConfiguration(lookup.revision(name));
    if (owner) configs.add(owner);
  };
  for (const target of (route.spec?.traffic ?? []) as (TrafficTarget & { configurationName?: string })[]) {
    if (target.revisionName) addRevision(target.revisionName);
    if (target.configurationName) {
      configs.add(target.configurationName);
      const latest = lookup.configuration(target.configurationName)?.status?.latestCreatedRevisionName;
      if (latest) revisions.add(latest);
    }
  }
  for (const target of route.status?.traffic ?? []) if (target.revisionName) addRevision(target.revisionName);
  return { revisions, configurations: configs };
}

const routesOf = (annotations: Record<string, string> | undefined) =>
  new Set((annotations?.[Annotations.routes] ?? '').split(',').filter(Boolean));

/**
 * Patches that add this route to what it references and, when removals are allowed (the
 * route has settled, so traffic has really moved), take it off what it no longer does.
 */
export function routingPatches(
  routeName: string,
  referenced: Referenced,
  revisions: Revision[],
  configurations: Configuration[],
  options: { allowRemoval: boolean; now: Date },
): RoutingPatch[] {
  const patches: RoutingPatch[] = [];
  const timestamp = options.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const desiredRoutes = (current: Set<string>, wanted: boolean) => {
    const next = new Set(current);
    if (wanted) next.add(routeName);
    else if (options.allowRemoval) next.delete(routeName);
    return next;
  };
  const joined = (routes: Set<string>) => (routes.size ? [...routes].sort().join(',') : null);

  for (const rev of revisions) {
    const name = rev.metadata?.name ?? '';
    const current = routesOf(rev.metadata?.annotations);
    const next = desiredRoutes(current, referenced.revisions.has(name));
    const state = rev.metadata?.labels?.[Labels.routingState];
    const nextState = next.size > 0 ? 'active' : current.size > 0 || state === 'active' ? 'reserve' : state;
    if (joined(current) === joined(next) && state === nextState) continue;
    const patch: RoutingPatch['patch'] = { metadata: { annotations: { [Annotations.routes]: joined(next) } } };
    if (nextState !== state && nextState) {
      patch.metadata.labels = { [Labels.routingState]: nextState };
      patch.metadata.annotations[Annotations.routingStateModified] = timestamp;
    }
    patches.push({ kind: 'revision', name, patch });
  }
  for (const cfg of configurations) {
    const name = cfg.metadata?.name ?? '';
    const current = routesOf(cfg.metadata?.annotations);
    const next = desiredRoutes(current, referenced.configurations.has(name));
    if (joined(current) !== joined(next))
      patches.push({
        kind: 'configuration',
        name,
        patch: { metadata: { annotations: { [Annotations.routes]: joined(next) } } },
      });
  }
  return patches;
}
