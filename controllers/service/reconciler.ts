// Service → Configuration + Route of the same name (upstream pkg/reconciler/service/service.go).
import type { Service, Route, Configuration } from '../../lib/apis/serving.ts';
import { ServiceConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { isAlreadyExists } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { createObject, sameJson, updateObject } from '../reconciler/crud.ts';
import type { ReconcileContext } from '../reconciler/kindReconciler.ts';
import { Kinds, type Kind } from '../reconciler/kinds.ts';
import { makeConfiguration, makeRoute } from './resources/children.ts';
import { propagateConfigurationStatus, propagateRouteStatus, ServiceReasons } from './status.ts';

export interface ServiceReconcilerDeps {
  client: KubeRest;
  configurations: Lister<Configuration>;
  routes: Lister<Route>;
}

type Child = Configuration | Route;

/**
 * The Service dictates the child's spec, labels and annotations whole, as upstream does, so a
 * label or annotation removed from the Service goes from its children too. The one key other
 * controllers write, the Configuration's routes annotation, is carried over by the builder.
 */
function differs(have: Child, want: Child): boolean {
  return (
    !sameJson(have.spec, want.spec) ||
    !sameJson(have.metadata?.labels ?? {}, want.metadata?.labels ?? {}) ||
    !sameJson(have.metadata?.annotations ?? {}, want.metadata?.annotations ?? {})
  );
}

export function serviceReconciler(deps: ServiceReconcilerDeps) {
  /** The four beats for one child; undefined when the name is taken by an object we do not own. */
  async function reconcileChild<T extends Child>(
    svc: Service,
    kind: Kind,
    lister: Lister<T>,
    build: (existing: T | undefined) => T,
    manager: ConditionManager,
    condition: string,
    ctx: ReconcileContext,
  ): Promise<T | undefined> {
    const kindName = kind === Kinds.configuration ? 'Configuration' : 'Route';
    const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
    const existing = lister.get(key);
    if (!existing) {
      try {
        const created = await createObject(deps.client, kind, build(undefined));
        void ctx.events.event(svc, 'Normal', 'Created', `Created ${kindName} "${created.metadata?.name}"`);
        return created;
      } catch (error) {
        // Our cache lags our own create; the next event brings the object.
        if (isAlreadyExists(error)) return undefined;
        void ctx.events.event(
          svc,
          'Warning',
          'CreationFailed',
          `Failed to create ${kindName} "${svc.metadata?.name}": ${(error as Error).message}`,
        );
        throw error;
      }
    }
    if (!isControlledBy(existing, svc)) {
      manager.markFalse(
        condition,
        ServiceReasons.notOwned,
        `There is an existing ${kindName} "${existing.metadata?.name}" that we do not own.`,
      );
      return undefined;
    }
    const want = build(existing);
    if (!differs(existing, want)) return existing;
    const updated = structuredClone(existing);
    updated.spec = want.spec;
    updated.metadata = { ...updated.metadata, labels: want.metadata?.labels, annotations: want.metadata?.annotations };
    return await updateObject(deps.client, kind, updated);
  }

  return async function reconcileService(svc: Service, ctx: ReconcileContext): Promise<void> {
    const status = (svc.status ??= {});
    const manager = ServiceConditions.manage(status, ctx.clock);
    manager.initialize();
    const cfg = await reconcileChild(
      svc,
      Kinds.configuration,
      deps.configurations,
      (existing) => makeConfiguration(svc, existing),
      manager,
      'ConfigurationsReady',
      ctx,
    );
    if (!cfg) return;
    propagateConfigurationStatus(status, manager, cfg);
    const route = await reconcileChild(
      svc,
      Kinds.route,
      deps.routes,
      () => makeRoute(svc),
      manager,
      'RoutesReady',
      ctx,
    );
    if (!route) return;
    propagateRouteStatus(status, manager, route, cfg);
  };
}
