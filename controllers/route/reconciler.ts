// Route → networking Ingress, a Kubernetes Service per target name, its URL and traffic status,
// and the routing labels on the revisions it references (upstream pkg/reconciler/route/route.go,
// reconcile_resources.go and pkg/reconciler/labeler), moving a new latest ready revision in
// gradually when a rollout duration is set (rollout.ts).
import type { V1Service } from '@kubernetes/client-node';
import { RouteConditions, type ConditionManager, type Status } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { servingContainerOf, servingProtocol } from '../../lib/apis/revision.ts';
import { Labels, type RevisionSpec, type Route, type Revision, type Configuration } from '../../lib/apis/serving.ts';
import { conditionOf, isFailed, isReady, type TrafficStatus } from '../../lib/apis/status.ts';
import { CLUSTER_DOMAIN, type DomainConfig } from '../../lib/config/domain.ts';
import type { Features } from '../../lib/config/features.ts';
import type { NetworkConfig } from '../../lib/config/network.ts';
import type { ReconcileResult } from '../../lib/controller.ts';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import {
  containsAll,
  createObject,
  deleteObject,
  mergePatch,
  sameJson,
  updateObject,
} from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds, objectPath } from '../../lib/reconciler/kinds.ts';
import { referencedBy, routingPatches } from './labeler.ts';
import { makeIngress, routeUrl, type Ingress, type IngressConfig } from './resources/ingress.ts';
import { makeRouteService, type IngressLoadBalancers } from './resources/service.ts';
import {
  buildRollout,
  isDone,
  parseRollout,
  planRollout,
  rolledOutStatus,
  ROLLOUT_ANNOTATION,
  rolloutDurationSeconds,
  type RolloutPlan,
} from './rollout.ts';
import { resolveTraffic, type RevisionTarget } from './traffic.ts';

export type IngressObject = Omit<Ingress, 'metadata'> & {
  metadata: Ingress['metadata'] & { generation?: number; resourceVersion?: string };
  status?: Status & IngressLoadBalancers;
};

export interface RouteConfigSnapshot {
  network: NetworkConfig;
  domain: DomainConfig;
  features: Features;
}

export interface RouteReconcilerDeps {
  client: KubeRest;
  configurations: Lister<Configuration>;
  revisions: Lister<Revision>;
  ingresses: Lister<IngressObject>;
  /** Services labelled with a route: the ones this reconciler made. */
  services: Lister<V1Service>;
  config(): Readonly<RouteConfigSnapshot>;
}

export const RouteReasons = {
  notOwned: 'NotOwned',
  ingressNotConfigured: 'IngressNotConfigured',
  tlsNotEnabled: 'TLSNotEnabled',
  errorConfig: 'ErrorConfig',
  rolloutInProgress: 'RolloutInProgress',
} as const;

function trafficStatus(route: Route, targets: RevisionTarget[], config: IngressConfig): TrafficStatus[] {
  return targets.map((t) => ({
    ...(t.tag ? { tag: t.tag } : {}),
    revisionName: t.revisionName,
    latestRevision: t.latestRevision,
    percent: t.percent,
    ...(t.tag ? { url: routeUrl(route, config, t.tag) } : {}),
  }));
}

/** The part of a Service's spec we set; the API server fills in the rest. */
const serviceShape = (spec: V1Service['spec']) => ({
  type: spec?.type,
  externalName: spec?.externalName,
  sessionAffinity: spec?.sessionAffinity,
  ports: spec?.ports,
});

function propagateIngressStatus(manager: ConditionManager, ingress: IngressObject): void {
  const ready = conditionOf(ingress.status, 'Ready');
  const current = ingress.status?.observedGeneration === ingress.metadata.generation;
  if (current && ready?.status === 'True') manager.markTrue('IngressReady');
  else if (current && ready?.status === 'False')
    manager.markFalse('IngressReady', ready.reason ?? '', ready.message ?? '');
  else manager.markUnknown('IngressReady', RouteReasons.ingressNotConfigured, 'Ingress has not yet been reconciled.');
}

export function routeReconciler(deps: RouteReconcilerDeps) {
  async function reconcileIngress(
    route: Route,
    existing: IngressObject | undefined,
    desired: Ingress,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<IngressObject | undefined> {
    if (!existing) {
      try {
        const created = await createObject<IngressObject>(deps.client, Kinds.ingress, desired);
        void ctx.events.event(route, 'Normal', 'Created', `Created Ingress "${created.metadata.name}"`);
        return created;
      } catch (error) {
        if (isAlreadyExists(error)) return undefined;
        throw error;
      }
    }
    if (!isControlledBy(existing, route)) {
      manager.markFalse(
        'IngressReady',
        RouteReasons.notOwned,
        `There is an existing Ingress "${existing.metadata.name}" that we do not own.`,
      );
      return undefined;
    }
    if (
      sameJson(existing.spec, desired.spec) &&
      containsAll(existing.metadata.labels, desired.metadata.labels) &&
      containsAll(existing.metadata.annotations, desired.metadata.annotations)
    )
      return existing;
    const updated = structuredClone(existing);
    updated.spec = desired.spec;
    updated.metadata = {
      ...updated.metadata,
      labels: { ...existing.metadata.labels, ...desired.metadata.labels },
      annotations: { ...existing.metadata.annotations, ...desired.metadata.annotations },
    };
    return await updateObject(deps.client, Kinds.ingress, updated);
  }

  /**
   * A Service per target name, pointed at the load balancer of the Route's Ingress once it has
   * one; the Services of names the traffic no longer has are deleted.
   */
  async function reconcileServices(
    route: Route,
    targetNames: string[],
    config: IngressConfig,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<void> {
    const namespace = route.metadata?.namespace ?? '';
    const routeName = route.metadata?.name ?? '';
    const ingress = deps.ingresses.get(`${namespace}/${routeName}`);
    const balancers = ingress && isControlledBy(ingress, route) ? ingress.status : undefined;
    const wanted = new Set<string>();
    for (const targetName of targetNames) {
      const desired = makeRouteService(route, targetName, config, balancers);
      const name = desired.metadata?.name ?? '';
      wanted.add(name);
      let existing = deps.services.get(`${namespace}/${name}`);
      if (!existing) {
        try {
          await createObject(deps.client, Kinds.coreService, desired);
          void ctx.events.event(route, 'Normal', 'Created', `Created placeholder service "${name}"`);
          continue;
        } catch (error) {
          if (!isAlreadyExists(error)) {
            void ctx.events.event(
              route,
              'Warning',
              'CreationFailed',
              `Failed to create placeholder service "${name}": ${(error as Error).message}`,
            );
            throw error;
          }
          // Our cache lags our own create, or a Service our informer does not see (no route label) holds the name.
          existing = await deps.client.request<V1Service>('GET', objectPath(Kinds.coreService, desired));
        }
      }
      if (!isControlledBy(existing, route)) {
        manager.markFalse(
          'IngressReady',
          RouteReasons.notOwned,
          `There is an existing placeholder Service "${name}" that we do not own.`,
        );
        // An error, so the route is retried: the Service's owner may not carry our label, and then its removal would go unseen.
        throw new Error(`route "${routeName}" does not own Service "${name}"`);
      }
      if (
        sameJson(serviceShape(existing.spec), serviceShape(desired.spec)) &&
        containsAll(existing.metadata?.labels, desired.metadata?.labels) &&
        containsAll(existing.metadata?.annotations, desired.metadata?.annotations)
      )
        continue;
      const updated = structuredClone(existing);
      updated.spec = { ...existing.spec, ...serviceShape(desired.spec) };
      updated.metadata = {
        ...updated.metadata,
        labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
        annotations: { ...existing.metadata?.annotations, ...desired.metadata?.annotations },
      };
      await updateObject(deps.client, Kinds.coreService, updated);
    }
    for (const service of deps.services.listNamespace(namespace)) {
      const stale = service.metadata?.labels?.[Labels.route] === routeName && !wanted.has(service.metadata?.name ?? '');
      if (stale && isControlledBy(service, route)) await deleteObject(deps.client, Kinds.coreService, service);
    }
  }

  async function label(route: Route, allowRemoval: boolean, ctx: ReconcileContext): Promise<void> {
    const namespace = route.metadata?.namespace ?? '';
    const referenced = referencedBy(route, {
      configuration: (name) => deps.configurations.get(`${namespace}/${name}`),
      revision: (name) => deps.revisions.get(`${namespace}/${name}`),
    });
    const patches = routingPatches(
      route.metadata?.name ?? '',
      referenced,
      deps.revisions.listNamespace(namespace),
      deps.configurations.listNamespace(namespace),
      { allowRemoval, now: new Date(ctx.clock.now()) },
    );
    for (const { kind, name, patch } of patches) {
      try {
        await mergePatch(
          deps.client,
          kind === 'revision' ? Kinds.revision : Kinds.configuration,
          { metadata: { namespace, name } },
          patch,
        );
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  /**
   * What the Route's Ingress serves: the traffic as asked, or a step of a gradual rollout from
   * the state the Ingress records (upstream reconcileRollout).
   */
  function rolloutFor(
    route: Route,
    targets: Map<string, RevisionTarget[]>,
    existing: IngressObject | undefined,
    routeIngressReady: boolean,
    network: NetworkConfig,
    ctx: ReconcileContext,
  ): RolloutPlan {
    const desired = buildRollout(targets);
    const durationSeconds = rolloutDurationSeconds(route.metadata?.annotations, network);
    // A new Ingress (or one that is not ours) has no rollout to continue.
    if (durationSeconds <= 0 || !existing || !isControlledBy(existing, route)) return { rollout: desired };
    const recorded = existing.metadata.annotations?.[ROLLOUT_ANNOTATION];
    const previous = parseRollout(recorded);
    // Hand edits or a corrupt store; a rollout is not worth failing the Route over.
    if (recorded && !previous) ctx.log.warn('discarding an unreadable rollout state', { rollout: recorded });
    const current = existing.status?.observedGeneration === existing.metadata.generation;
    return planRollout({
      desired,
      previous,
      durationSeconds,
      ingressReady: current && conditionOf(existing.status, 'Ready')?.status === 'True',
      routeIngressReady,
      nowMs: ctx.clock.now(),
    });
  }

  return async function reconcileRoute(route: Route, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    // As it stood before this reconcile (a new generation is not yet served): the rollout's
    // steps are timed when the Ingress turns ready while the Route does not count it so.
    const routeIngressReady =
      route.status?.observedGeneration === route.metadata?.generation &&
      conditionOf(route.status, 'IngressReady')?.status === 'True';
    const status = (route.status ??= {});
    const manager = RouteConditions.manage(status, ctx.clock);
    manager.initialize();
    const snapshot = deps.config();
    const config: IngressConfig = { network: snapshot.network, domains: snapshot.domain, features: snapshot.features };
    const namespace = route.metadata?.namespace ?? '';
    const name = route.metadata?.name ?? '';

    try {
      status.url = routeUrl(route, config);
    } catch (error) {
      manager.markFalse('AllTrafficAssigned', RouteReasons.errorConfig, (error as Error).message);
      return;
    }
    status.address = { url: `http://${name}.${namespace}.svc.${CLUSTER_DOMAIN}` };
    manager.markTrue('CertificateProvisioned', RouteReasons.tlsNotEnabled, 'external-domain-tls is not enabled');

    const traffic = resolveTraffic(
      route.spec?.traffic ?? [],
      {
        configuration: (cfgName) => {
          const cfg = deps.configurations.get(`${namespace}/${cfgName}`);
          // A Configuration without status yet exists all the same: it is waiting, not missing.
          return (
            cfg && {
              latestReadyRevisionName: cfg.status?.latestReadyRevisionName,
              failed: conditionOf(cfg.status, 'Ready')?.status === 'False',
            }
          );
        },
        revision: (revName) => {
          const rev = deps.revisions.get(`${namespace}/${revName}`);
          if (!rev) return undefined;
          return {
            ready: isReady(rev),
            failed: isFailed(rev),
            protocol: servingProtocol(servingContainerOf(rev.spec as RevisionSpec)),
            serviceLabel: rev.metadata?.labels?.[Labels.service],
          };
        },
      },
      route.metadata?.labels?.[Labels.service],
    );

    if (!traffic.ok) {
      if (traffic.failed) manager.markFalse('AllTrafficAssigned', traffic.reason, traffic.message);
      else manager.markUnknown('AllTrafficAssigned', traffic.reason, traffic.message);
      await label(route, traffic.failed, ctx);
      return;
    }
    await reconcileServices(route, [...traffic.targets.keys()], config, manager, ctx);
    const existing = deps.ingresses.get(`${namespace}/${name}`);
    const { rollout, requeueAfterMs } = rolloutFor(
      route,
      traffic.targets,
      existing,
      routeIngressReady,
      snapshot.network,
      ctx,
    );
    const desired = makeIngress(route, traffic.targets, config, rollout);
    const ingress = await reconcileIngress(route, existing, desired, manager, ctx);
    const rolling = !isDone(rollout);
    const served = rolling ? rolledOutStatus(traffic.revisionTargets, rollout) : traffic.revisionTargets;
    status.traffic = trafficStatus(route, served, config);
    manager.markTrue('AllTrafficAssigned');
    if (ingress) propagateIngressStatus(manager, ingress);
    if (rolling)
      manager.markUnknown(
        'IngressReady',
        RouteReasons.rolloutInProgress,
        'A gradual rollout of the latest revision(s) is in progress.',
      );
    // Only once the new split is live may the revisions it dropped stop counting as routed.
    await label(route, manager.get('IngressReady')?.status === 'True', ctx);
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  };
}
