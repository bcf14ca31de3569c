// The revision reconciler's reserved-instance phase: keep `<rev>-reserved` (a Deployment of one
// burstable pod and the Service that selects it) while the revision may scale to zero and the
// feature is on for it, remove them otherwise, and say which instances serve it.
import type { KubernetesObject, V1Deployment, V1Service } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import type { ConditionManager } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import type { PodAutoscalerStatus } from '../../lib/apis/status.ts';
import type { Revision } from '../../lib/apis/serving.ts';
import { parseAutoscalingAnnotations } from '../../lib/config/autoscalingAnnotations.ts';
import {
  INSTANCE_MODES,
  planReservedInstance,
  type InstanceMode,
  type ReservedInstanceConfig,
} from '../../lib/config/reservedInstance.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { sharedMetric } from '../../lib/metrics.ts';
import { deleteObject, sameJson } from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds, type Kind } from '../../lib/reconciler/kinds.ts';
import { reconcileRevisionChild, type RevisionChild } from './child.ts';
import type { RevisionConfig } from './config.ts';
import { DEPLOYMENT_HASH_LABEL, withHash } from './deploymentHash.ts';
import { reservedName } from './resources/names.ts';
import { isRouted, makeReservedDeployment } from './resources/reservedDeployment.ts';
import { makeReservedService } from './resources/reservedService.ts';
import {
  clearReservedStatus,
  instanceMode,
  propagateReservedStatus,
  RESERVED_INSTANCE_READY,
  RevisionReasons,
  setInstanceMode,
} from './status.ts';

/** Core v1 Services (Kinds.service is Knative's). */

export type InstanceModeRecorder = (namespace: string, revision: string, mode: InstanceMode) => void;

/** `pilotlight_revision_instance_mode{namespace,revision,mode}`: 1 for the revision's current mode, 0 for the others. */
export function instanceModeRecorder(registry: Registry): InstanceModeRecorder {
  const gauge = sharedMetric(
    registry,
    'pilotlight_revision_instance_mode',
    (registers) =>
      new Gauge({
        name: 'pilotlight_revision_instance_mode',
        help: 'Which instances serve a revision: standard, reserved-only or scaling-from-reserved (1 for the current mode)',
        labelNames: ['namespace', 'revision', 'mode'],
        registers,
      }),
  );
  return (namespace, revision, mode) => {
    for (const each of INSTANCE_MODES) gauge.set({ namespace, revision, mode: each }, each === mode ? 1 : 0);
  };
}

export interface ReservedInstanceDeps {
  client: KubeRest;
  deployments: Lister<V1Deployment>;
  /** Services labelled serviceType=Reserved. */
  services: Lister<V1Service>;
  recordInstanceMode: InstanceModeRecorder;
}

export interface ReservedInstanceInput {
  rev: Revision;
  config: RevisionConfig;
  reservedInstance: ReservedInstanceConfig;
  pa: { status?: PodAutoscalerStatus };
  manager: ConditionManager;
  ctx: ReconcileContext;
}

/** Scale to zero off means a standing minimum of one: standard instances already answer at once. */
function effectiveMinScale(rev: Revision, config: RevisionConfig): number {
  const { values } = parseAutoscalingAnnotations(rev.metadata?.annotations, config.autoscaler);
  const minScale = values.minScale ?? config.autoscaler.minScale;
  return config.autoscaler.enableScaleToZero ? minScale : Math.max(1, minScale);
}

export function reservedInstanceReconciler(deps: ReservedInstanceDeps) {
  /** Creates or updates a child whose ownership the caller has checked; undefined while our create is not cached. */
  async function reconcileOwned<C extends V1Deployment | V1Service>(
    rev: Revision,
    child: RevisionChild<C>,
    ctx: ReconcileContext,
  ): Promise<C | undefined> {
    const result = await reconcileRevisionChild(deps.client, rev, child, ctx);
    return result.state === 'pending' || result.state === 'notOwned' ? undefined : result.child;
  }

  async function removeOwned(kind: Kind, object: KubernetesObject | undefined, rev: Revision): Promise<void> {
    if (!object || !isControlledBy(object, rev)) return;
    await deleteObject(deps.client, kind, object);
  }

  const reconcileDeployment = (
    desired: V1Deployment,
    existing: V1Deployment | undefined,
    rev: Revision,
    ctx: ReconcileContext,
  ) =>
    reconcileOwned(
      rev,
      {
        kind: Kinds.deployment,
        description: 'Deployment',
        existing,
        desired,
        spec: {
          // Unlike the standard Deployment's, these replicas are ours: no autoscaler moves them.
          equal: (have, want) =>
            have.metadata?.labels?.[DEPLOYMENT_HASH_LABEL] === want.metadata?.labels?.[DEPLOYMENT_HASH_LABEL] &&
            have.spec?.replicas === want.spec?.replicas,
          apply: (have, want) => ({ ...have, spec: want.spec }),
        },
      },
      ctx,
    );

  const reconcileService = (
    desired: V1Service,
    existing: V1Service | undefined,
    rev: Revision,
    ctx: ReconcileContext,
  ) =>
    reconcileOwned(
      rev,
      {
        kind: Kinds.coreService,
        description: 'Service',
        existing,
        desired,
        spec: {
          equal: (have, want) =>
            sameJson(have.spec?.ports, want.spec?.ports) && sameJson(have.spec?.selector, want.spec?.selector),
          // The API server owns the rest of the spec (clusterIP, ipFamilies, …).
          apply: (have, want) => ({
            ...have,
            spec: { ...have.spec, ports: want.spec?.ports, selector: want.spec?.selector },
          }),
        },
      },
      ctx,
    );

  return async function reconcileReservedInstance({
    rev,
    config,
    reservedInstance,
    pa,
    manager,
    ctx,
  }: ReservedInstanceInput): Promise<void> {
    const status = (rev.status ??= {});
    const namespace = rev.metadata?.namespace ?? '';
    const revisionName = rev.metadata?.name ?? '';
    const name = reservedName(revisionName);
    const existingDeployment = deps.deployments.get(`${namespace}/${name}`);
    const existingService = deps.services.get(`${namespace}/${name}`);
    const plan = planReservedInstance({
      annotations: rev.metadata?.annotations,
      config: reservedInstance,
      containerConcurrency: rev.spec?.containerConcurrency,
      minScale: effectiveMinScale(rev, config),
    });

    if (!plan.keep) {
      await removeOwned(Kinds.coreService, existingService, rev);
      await removeOwned(Kinds.deployment, existingDeployment, rev);
      if (plan.reason === 'invalid') {
        manager.markFalse(
          RESERVED_INSTANCE_READY,
          RevisionReasons.invalidConfiguration,
          plan.issues.map((i) => `${i.key}: ${i.message}`).join('; '),
        );
      } else {
        clearReservedStatus(status);
      }
      setInstanceMode(status, 'standard');
      deps.recordInstanceMode(namespace, revisionName, 'standard');
      return;
    }

    const notOwned = [
      [existingDeployment, 'Deployment'],
      [existingService, 'Service'],
    ] as const;
    for (const [object, kind] of notOwned) {
      if (object && !isControlledBy(object, rev)) {
        manager.markFalse(
          RESERVED_INSTANCE_READY,
          RevisionReasons.notOwned,
          `There is an existing ${kind} "${name}" that we do not own.`,
        );
        setInstanceMode(status, 'standard');
        deps.recordInstanceMode(namespace, revisionName, 'standard');
        return;
      }
    }
    const deployment = await reconcileDeployment(
      withHash(makeReservedDeployment(rev, config, plan.sizing)),
      existingDeployment,
      rev,
      ctx,
    );
    await reconcileService(makeReservedService(rev, plan.sizing.containerConcurrency), existingService, rev, ctx);
    if (deployment) propagateReservedStatus(manager, deployment, isRouted(rev));
    else manager.markUnknown(RESERVED_INSTANCE_READY, RevisionReasons.deploying, '');
    const mode = instanceMode(pa);
    setInstanceMode(status, mode);
    deps.recordInstanceMode(namespace, revisionName, mode);
  };
}
