// Service → Configuration + Route of the same name (upstream pkg/reconciler/service/service.go).
import type { Service, Route, Configuration } from '../../lib/apis/serving.ts';
import { ServiceConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { ownedChild, reconcileChild } from '../../lib/reconciler/child.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds, type Kind } from '../../lib/reconciler/kinds.ts';
import { makeConfiguration, makeRoute } from './resources/children.ts';
import { propagateConfigurationStatus, propagateRouteStatus, ServiceReasons } from './status.ts';

export interface ServiceReconcilerDeps {
  client: KubeRest;
  configurations: Lister<Configuration>;
  routes: Lister<Route>;
}

export function serviceReconciler(deps: ServiceReconcilerDeps) {
  /**
   * The Service dictates its children's spec, labels and annotations whole, as upstream does, so a
   * label or annotation removed from the Service goes from its children too. The one key other
   * controllers write, the Configuration's routes annotation, is carried over by the builder.
   */
  async function reconcileChildOf<C extends Configuration | Route>(
    svc: Service,
    child: { kind: Kind; description: string; lister: Lister<C>; build: (existing: C | undefined) => C },
    manager: ConditionManager,
    condition: string,
    ctx: ReconcileContext,
  ): Promise<C | undefined> {
    const result = await reconcileChild({
      client: deps.client,
      kind: child.kind,
      description: child.description,
      owner: svc,
      existing: child.lister.get(`${svc.metadata?.namespace}/${svc.metadata?.name}`),
      desired: child.build,
      metadata: 'dictate',
      events: ctx.events,
      createdEvent: true,
      onAlreadyExists: 'wait',
    });
    return ownedChild(result, manager, condition, ServiceReasons.notOwned);
  }

  return async function reconcileService(svc: Service, ctx: ReconcileContext): Promise<void> {
    const status = (svc.status ??= {});
    const manager = ServiceConditions.manage(status, ctx.clock);
    manager.initialize();
    const cfg = await reconcileChildOf(
      svc,
      {
        kind: Kinds.configuration,
        description: 'Configuration',
        lister: deps.configurations,
        build: (existing) => makeConfiguration(svc, existing),
      },
      manager,
      'ConfigurationsReady',
      ctx,
    );
    if (!cfg) return;
    propagateConfigurationStatus(status, manager, cfg);
    const route = await reconcileChildOf(
      svc,
      { kind: Kinds.route, description: 'Route', lister: deps.routes, build: () => makeRoute(svc) },
      manager,
      'RoutesReady',
      ctx,
    );
    if (!route) return;
    propagateRouteStatus(status, manager, route, cfg);
  };
}
