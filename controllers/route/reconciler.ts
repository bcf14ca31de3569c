// Route → networking Ingress, a Kubernetes Service per target name, its URL and traffic status,
// and the routing labels on the revisions it references (upstream pkg/reconciler/route/route.go,
// reconcile_resources.go and pkg/reconciler/labeler), moving a new latest ready revision in
// gradually when a rollout duration is set (rollout.ts), or step by step under pilotlight's
// canary analysis when the canary annotations are (canary.ts).
import type { V1Service } from '@kubernetes/client-node';
import { RouteConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { servingContainerOf, servingProtocol } from '../../lib/apis/revision.ts';
import { Labels, type RevisionSpec, type Route, type Revision, type Configuration } from '../../lib/apis/serving.ts';
import { conditionOf, isFailed, isReady, type TrafficStatus } from '../../lib/apis/status.ts';
import { CLUSTER_DOMAIN, type DomainConfig } from '../../lib/config/domain.ts';
import type { Features } from '../../lib/config/features.ts';
import type { NetworkConfig } from '../../lib/config/network.ts';
import type { ReconcileResult } from '../../lib/controller.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { deleteObject, mergePatch, sameJson } from '../../lib/reconciler/crud.ts';
import { ownedChild, reconcileChild } from '../../lib/reconciler/child.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import { referencedBy, routingPatches } from './labeler.ts';
import type { Certificate, Ingress } from '../../lib/apis/networking.ts';
import { routeCertificates } from './certificates.ts';
import { CertificateReasons, externalDomainTlsEnabled, planTls, TlsMessages, withScheme, type TlsPlan } from './tls.ts';
import { makeIngress, routeUrl, type IngressConfig } from './resources/ingress.ts';
import { makeRouteService } from './resources/service.ts';
import {
  abandonedCanaries,
  CANARY_CONDITION,
  CANARY_STATE_ANNOTATION,
  CANARY_TAG,
  CanaryAnnotations,
  CanaryReasons,
  canaryCondition,
  InvalidCanaryAnnotation,
  canaryRollout,
  checkDue,
  parseCanarySpec,
  parseCanaryStates,
  serializeCanaryStates,
  stepCanary,
  type CanaryEvent,
  type CanarySpec,
  type CanaryState,
  type CheckFigures,
} from './canary.ts';
import type { ReadFigures } from './gatewayStats.ts';
import { noFigures, type RevisionFigures } from '../../lib/stats/revisionFigures.ts';
import {
  buildRollout,
  isDone,
  parseRollout,
  planRollout,
  rolledOutStatus,
  ROLLOUT_ANNOTATION,
  rolloutDurationSeconds,
  serializeRollout,
  type Rollout,
  type RolloutPlan,
} from './rollout.ts';
import { DEFAULT_TARGET, resolveTraffic, type RevisionTarget } from './traffic.ts';

export interface RouteConfigSnapshot {
  network: NetworkConfig;
  domain: DomainConfig;
  features: Features;
}

export interface RouteReconcilerDeps {
  client: KubeRest;
  configurations: Lister<Configuration>;
  revisions: Lister<Revision>;
  ingresses: Lister<Ingress>;
  /** Services labelled with a route: the ones this reconciler made. */
  services: Lister<V1Service>;
  certificates: Lister<Certificate>;
  config(): Readonly<RouteConfigSnapshot>;
  /** The gateway's per-revision figures for the canary analysis; without it every check finds none. */
  readFigures?: ReadFigures;
}

export const RouteReasons = {
  notOwned: 'NotOwned',
  ingressNotConfigured: 'IngressNotConfigured',
  errorConfig: 'ErrorConfig',
  rolloutInProgress: 'RolloutInProgress',
} as const;

interface CanaryPlan {
  spec: CanarySpec;
  states: CanaryState[];
  events: CanaryEvent[];
  requeueAfterMs?: number;
}

const earliest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

/** The object a canary's Events go to: the Route's Service, whose describe people read, else the Route. */
function eventTarget(route: Route) {
  const owner = route.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Service');
  if (!owner) return route;
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    metadata: { namespace: route.metadata?.namespace, name: owner.name, uid: owner.uid },
  };
}

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

function propagateIngressStatus(manager: ConditionManager, ingress: Ingress): void {
  const ready = conditionOf(ingress.status, 'Ready');
  const current = ingress.status?.observedGeneration === ingress.metadata?.generation;
  if (current && ready?.status === 'True') manager.markTrue('IngressReady');
  else if (current && ready?.status === 'False')
    manager.markFalse('IngressReady', ready.reason ?? '', ready.message ?? '');
  // The ingress's own words on what it waits for (a TLS Secret that does not load, say), as upstream.
  else if (current && ready?.reason) manager.markUnknown('IngressReady', ready.reason, ready.message ?? '');
  else manager.markUnknown('IngressReady', RouteReasons.ingressNotConfigured, 'Ingress has not yet been reconciled.');
}

/** CertificateProvisioned as the Route's Certificates leave it; a Certificate held by someone else fails the reconcile. */
function reportCertificates(route: Route, manager: ConditionManager, plan: TlsPlan): void {
  const { status, reason, message } = plan.condition;
  if (status === 'True') manager.markTrue('CertificateProvisioned', reason, message);
  else if (status === 'False') manager.markFalse('CertificateProvisioned', reason ?? '', message ?? '');
  else manager.markUnknown('CertificateProvisioned', reason ?? '', message ?? '');
  if (reason === CertificateReasons.notOwned)
    // Retried, as upstream: the KIngress keeps what it served until the name is ours.
    throw new Error(`route "${route.metadata?.name}": ${message}`);
}

export function routeReconciler(deps: RouteReconcilerDeps) {
  const reconcileCertificates = routeCertificates({ client: deps.client, certificates: deps.certificates });
  async function reconcileIngress(
    route: Route,
    existing: Ingress | undefined,
    desired: Ingress,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<Ingress | undefined> {
    const result = await reconcileChild({
      client: deps.client,
      kind: Kinds.ingress,
      description: 'Ingress',
      owner: route,
      existing,
      desired: () => desired,
      metadata: 'merge',
      events: ctx.events,
      createdEvent: true,
      onAlreadyExists: 'wait',
    });
    return ownedChild(result, manager, 'IngressReady', RouteReasons.notOwned);
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
      const result = await reconcileChild<V1Service>({
        client: deps.client,
        kind: Kinds.coreService,
        description: 'placeholder service',
        owner: route,
        existing: deps.services.get(`${namespace}/${name}`),
        desired: () => desired,
        metadata: 'merge',
        spec: {
          equal: (have, want) => sameJson(serviceShape(have.spec), serviceShape(want.spec)),
          apply: (have, want) => ({ ...have, spec: { ...have.spec, ...serviceShape(want.spec) } }),
        },
        events: ctx.events,
        createdEvent: true,
        // A Service our informer does not see (no route label) may hold the name.
        onAlreadyExists: 'read',
      });
      if (result.state === 'notOwned') {
        // Upstream's events say "placeholder service", its condition "placeholder Service".
        const message = `There is an existing placeholder Service "${name}" that we do not own.`;
        manager.markFalse('IngressReady', RouteReasons.notOwned, message);
        // An error, so the route is retried: the Service's owner may not carry our label, and then its removal would go unseen.
        throw new Error(`route "${routeName}" does not own Service "${name}"`);
      }
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
    existing: Ingress | undefined,
    routeIngressReady: boolean,
    network: NetworkConfig,
    ctx: ReconcileContext,
  ): RolloutPlan {
    const desired = buildRollout(targets);
    const durationSeconds = rolloutDurationSeconds(route.metadata?.annotations, network);
    // A new Ingress (or one that is not ours) has no rollout to continue.
    if (durationSeconds <= 0 || !existing || !isControlledBy(existing, route)) return { rollout: desired };
    const recorded = existing.metadata?.annotations?.[ROLLOUT_ANNOTATION];
    const previous = parseRollout(recorded);
    // Hand edits or a corrupt store; a rollout is not worth failing the Route over.
    if (recorded && !previous) ctx.log.warn('discarding an unreadable rollout state', { rollout: recorded });
    const current = existing.status?.observedGeneration === existing.metadata?.generation;
    return planRollout({
      desired,
      previous,
      durationSeconds,
      ingressReady: current && conditionOf(existing.status, 'Ready')?.status === 'True',
      routeIngressReady,
      nowMs: ctx.clock.now(),
    });
  }

  /**
   * The canary of each configuration on the Route's default traffic: steps it (reading the
   * gateway's figures first when a check is due) from the state the Ingress records.
   */
  async function canaryFor(
    route: Route,
    spec: CanarySpec,
    desired: Rollout,
    existing: Ingress | undefined,
    ctx: ReconcileContext,
  ): Promise<CanaryPlan> {
    const namespace = route.metadata?.namespace ?? '';
    const ours = existing && isControlledBy(existing, route);
    const recorded = ours ? existing.metadata?.annotations?.[CANARY_STATE_ANNOTATION] : undefined;
    const previous = parseCanaryStates(recorded) ?? [];
    if (recorded && recorded !== '[]' && previous.length === 0)
      ctx.log.warn('discarding an unreadable canary state', { canary: recorded });
    const nowMs = ctx.clock.now();
    const configurations = desired.configurations.filter((c) => c.tag === DEFAULT_TARGET);
    const latestOf = (c: (typeof configurations)[number]) => c.revisions[0]!.revisionName;
    const previousOf = (name: string) => previous.find((s) => s.configurationName === name);
    const due = configurations.some((c) => {
      const state = previousOf(c.configurationName);
      return state?.canary === latestOf(c) && checkDue(spec, state, nowMs);
    });
    let figures: Map<string, RevisionFigures> | undefined;
    if (due && deps.readFigures) {
      try {
        figures = await deps.readFigures(namespace, spec.intervalMs);
      } catch (error) {
        ctx.log.warn("could not read the gateway's revision figures", { error });
      }
    }
    const plan: CanaryPlan = { spec, states: [], events: [] };
    for (const c of configurations) {
      const state = previousOf(c.configurationName);
      const stable = state && deps.revisions.get(`${namespace}/${state.stable}`);
      const figuresOf = (revision: string) => figures?.get(revision) ?? noFigures();
      const check: CheckFigures | 'unavailable' | undefined = !due
        ? undefined
        : figures && state?.canary
          ? { canary: figuresOf(state.canary), stable: figuresOf(state.stable) }
          : 'unavailable';
      const outcome = stepCanary({
        spec,
        previous: state,
        configurationName: c.configurationName,
        latest: latestOf(c),
        stableReady: stable !== undefined && isReady(stable),
        promote: route.metadata?.annotations?.[CanaryAnnotations.promote],
        figures: check,
        nowMs,
      });
      plan.states.push(outcome.state);
      plan.events.push(...outcome.events);
      plan.requeueAfterMs = earliest(plan.requeueAfterMs, outcome.requeueAfterMs);
    }
    return plan;
  }

  /** The revision a running canary answers on under CANARY_TAG, unless the traffic has that tag already. */
  function addCanaryTag(
    targets: Map<string, RevisionTarget[]>,
    revisionTargets: RevisionTarget[],
    plan: CanaryPlan,
  ): void {
    const canary = plan.states.find((s) => s.canary !== undefined)?.canary;
    if (!canary || targets.has(CANARY_TAG)) return;
    const protocol = revisionTargets.find((t) => t.latestRevision)?.protocol ?? 'http1';
    const target: RevisionTarget = {
      tag: CANARY_TAG,
      revisionName: canary,
      latestRevision: false,
      percent: 0,
      protocol,
    };
    targets.set(CANARY_TAG, [{ ...target, percent: 100 }]);
    revisionTargets.push(target);
  }

  function reportCanary(route: Route, manager: ConditionManager, plan: CanaryPlan, ctx: ReconcileContext): void {
    const condition = canaryCondition(plan.spec, plan.states);
    if (condition.status === 'True') manager.markTrue(CANARY_CONDITION, condition.reason, condition.message);
    else if (condition.status === 'False')
      manager.markFalse(CANARY_CONDITION, condition.reason ?? '', condition.message ?? '');
    else manager.markUnknown(CANARY_CONDITION, condition.reason ?? '', condition.message ?? '');
    if (condition.reason === CanaryReasons.rolledBack)
      // The latest revision will not get the traffic the spec gives it, as when it fails to become ready.
      manager.markFalse('AllTrafficAssigned', CanaryReasons.rolledBack, condition.message ?? '');
    else if (condition.status === 'Unknown')
      manager.markUnknown('IngressReady', RouteReasons.rolloutInProgress, condition.message ?? '');
    emitCanaryEvents(route, plan.events, ctx);
  }

  /** Each decision as an Event on the Service and a controller log line, with the same words. */
  function emitCanaryEvents(route: Route, events: CanaryEvent[], ctx: ReconcileContext): void {
    const target = eventTarget(route);
    for (const event of events) {
      ctx.log.info('canary', { route: route.metadata?.name, reason: event.reason, detail: event.message });
      void ctx.events.event(target, event.type, event.reason, event.message);
    }
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
    // Without either TLS setting nothing below changes it; with one, the Certificates decide it once traffic resolves.
    const externalTls = externalDomainTlsEnabled(route.metadata?.annotations, snapshot.network);
    if (!externalTls && !snapshot.network.clusterLocalDomainTls)
      manager.markTrue('CertificateProvisioned', CertificateReasons.tlsNotEnabled, TlsMessages.externalNotEnabled);

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
    const existing = deps.ingresses.get(`${namespace}/${name}`);
    let spec: CanarySpec | undefined;
    let invalid: InvalidCanaryAnnotation | undefined;
    try {
      spec = parseCanarySpec(route.metadata?.annotations);
    } catch (error) {
      if (!(error instanceof InvalidCanaryAnnotation)) throw error;
      invalid = error;
      manager.markFalse(CANARY_CONDITION, CanaryReasons.invalidSpec, error.message);
    }
    const canary = spec && (await canaryFor(route, spec, buildRollout(traffic.targets), existing, ctx));
    if (!spec && existing && isControlledBy(existing, route))
      emitCanaryEvents(
        route,
        abandonedCanaries(parseCanaryStates(existing.metadata?.annotations?.[CANARY_STATE_ANNOTATION]) ?? [], invalid),
        ctx,
      );
    if (canary) addCanaryTag(traffic.targets, traffic.revisionTargets, canary);
    else if (!invalid) status.conditions = status.conditions?.filter((c) => c.type !== CANARY_CONDITION);
    await reconcileServices(route, [...traffic.targets.keys()], config, manager, ctx);
    const tls = planTls(await reconcileCertificates(route, [...traffic.targets.keys()], config, ctx), {
      externalEnabled: externalTls,
      httpProtocol: snapshot.network.httpProtocol,
    });
    reportCertificates(route, manager, tls);
    status.url = withScheme(status.url, tls.schemes);
    if (tls.httpsAddress) status.address = { url: `https://${name}.${namespace}.svc.${CLUSTER_DOMAIN}` };
    const { rollout, requeueAfterMs } = canary
      ? {
          rollout: canaryRollout(canary.spec, buildRollout(traffic.targets), canary.states),
          requeueAfterMs: canary.requeueAfterMs,
        }
      : rolloutFor(route, traffic.targets, existing, routeIngressReady, snapshot.network, ctx);
    const desired = makeIngress(route, traffic.targets, config, rollout, tls.tls);
    // Written while the canary annotations are on, emptied once they are off, so a later canary starts afresh.
    const recordedCanary = existing?.metadata?.annotations?.[CANARY_STATE_ANNOTATION];
    if (canary || (recordedCanary && recordedCanary !== '[]'))
      desired.metadata = {
        ...desired.metadata,
        annotations: {
          ...desired.metadata?.annotations,
          // A canary is no gradual rollout: should its annotations go, a rollout-duration must not continue its split.
          ...(canary ? { [ROLLOUT_ANNOTATION]: serializeRollout(buildRollout(traffic.targets)) } : {}),
          [CANARY_STATE_ANNOTATION]: serializeCanaryStates(canary?.states ?? []),
        },
      };
    const ingress = await reconcileIngress(route, existing, desired, manager, ctx);
    const rolling = !isDone(rollout);
    const served = rolling || canary ? rolledOutStatus(traffic.revisionTargets, rollout) : traffic.revisionTargets;
    status.traffic = trafficStatus(route, served, config).map((t) =>
      t.url ? { ...t, url: withScheme(t.url, tls.schemes) } : t,
    );
    manager.markTrue('AllTrafficAssigned');
    if (ingress) propagateIngressStatus(manager, ingress);
    if (rolling && !canary)
      manager.markUnknown(
        'IngressReady',
        RouteReasons.rolloutInProgress,
        'A gradual rollout of the latest revision(s) is in progress.',
      );
    if (canary) reportCanary(route, manager, canary, ctx);
    // Only once the new split is live may the revisions it dropped stop counting as routed.
    await label(route, manager.get('IngressReady')?.status === 'True', ctx);
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  };
}
