// How a Service's status follows its Configuration and Route (upstream
// pkg/apis/serving/v1/service_lifecycle.go and pkg/reconciler/service/service.go). Pure.
import type { ConditionManager, Status } from '../../lib/apis/conditions.ts';
import { conditionOf, type ServiceStatus, type TrafficStatus } from '../../lib/apis/status.ts';
import type { Route, Configuration } from '../../lib/apis/serving.ts';
import { CANARY_CONDITION } from '../route/canary.ts';

export const ServiceReasons = {
  outOfDate: 'OutOfDate',
  trafficNotMigrated: 'TrafficNotMigrated',
  notOwned: 'NotOwned',
} as const;

const isReconciled = (object: { metadata?: { generation?: number }; status?: { observedGeneration?: number } }) =>
  object.metadata?.generation === object.status?.observedGeneration;

/** Copies a ready condition of a child into the Service condition that stands for it. */
function mirror(manager: ConditionManager, type: string, child: { status?: Status }): void {
  const ready = conditionOf(child.status, 'Ready');
  if (ready?.status === 'True') manager.markTrue(type);
  else if (ready?.status === 'False') manager.markFalse(type, ready.reason ?? '', ready.message ?? '');
  else manager.markUnknown(type, ready?.reason ?? '', ready?.message ?? '');
}

export function propagateConfigurationStatus(
  status: ServiceStatus,
  manager: ConditionManager,
  cfg: Configuration,
): void {
  if (!isReconciled(cfg)) {
    manager.markUnknown(
      'ConfigurationsReady',
      ServiceReasons.outOfDate,
      'The Configuration is still working to reflect the latest desired specification.',
    );
    return;
  }
  if (cfg.status?.latestCreatedRevisionName) status.latestCreatedRevisionName = cfg.status.latestCreatedRevisionName;
  if (cfg.status?.latestReadyRevisionName) status.latestReadyRevisionName = cfg.status.latestReadyRevisionName;
  mirror(manager, 'ConfigurationsReady', cfg);
}

export function propagateRouteStatus(
  status: ServiceStatus,
  manager: ConditionManager,
  route: Route,
  cfg: Configuration,
): void {
  if (!isReconciled(route)) {
    manager.markUnknown(
      'RoutesReady',
      ServiceReasons.outOfDate,
      'The Route is still working to reflect the latest desired specification.',
    );
    return;
  }
  if (route.status?.url) status.url = route.status.url;
  else delete status.url;
  if (route.status?.address) status.address = structuredClone(route.status.address);
  else delete status.address;
  if (route.status?.traffic) status.traffic = structuredClone(route.status.traffic);
  else delete status.traffic;
  mirror(manager, 'RoutesReady', route);
  copyCanaryCondition(status, manager, route);
  if (manager.get('RoutesReady')?.status === 'True' && !trafficMigrated(route, cfg)) {
    manager.markUnknown(
      'RoutesReady',
      ServiceReasons.trafficNotMigrated,
      'Traffic is not yet migrated to the latest revision.',
    );
  }
}

/**
 * Whether the Route's status already sends traffic where its spec says, with the Service's own
 * Configuration resolved to its latest ready revision; a Ready Route can still lag behind a
 * Configuration that just produced a new ready revision.
 */
export function trafficMigrated(route: Route, cfg: Configuration): boolean {
  const spec = (route.spec?.traffic ?? []) as (TrafficStatus & { configurationName?: string })[];
  const got = route.status?.traffic ?? [];
  if (spec.length !== got.length) return false;
  const key = (t: TrafficStatus) =>
    JSON.stringify([t.tag ?? '', t.revisionName ?? '', t.configurationName ?? '', t.percent ?? 0]);
  return spec.every((target, index) => {
    const want =
      target.configurationName === cfg.metadata?.name
        ? { ...target, revisionName: cfg.status?.latestReadyRevisionName, configurationName: undefined }
        : target;
    return key(want) === key(got[index]!);
  });
}

/** The Route's canary analysis condition (controllers/route/canary.ts), as it is: `kubectl get ksvc` shows it. */
function copyCanaryCondition(status: ServiceStatus, manager: ConditionManager, route: Route): void {
  const canary = conditionOf(route.status, CANARY_CONDITION);
  if (!canary) {
    status.conditions = status.conditions?.filter((c) => c.type !== CANARY_CONDITION);
    return;
  }
  if (canary.status === 'True') manager.markTrue(CANARY_CONDITION, canary.reason, canary.message);
  else if (canary.status === 'False') manager.markFalse(CANARY_CONDITION, canary.reason ?? '', canary.message ?? '');
  else manager.markUnknown(CANARY_CONDITION, canary.reason ?? '', canary.message ?? '');
}
