// Revision → Deployment `<rev>-deployment` + PodAutoscaler `<rev>` (and the reserved instance
// `<rev>-reserved`, see reservedInstance.ts), and the revision's health from them (upstream
// pkg/reconciler/revision/revision.go, reconcile_resources.go).
//
// Before anything runs, each container's image tag is resolved to a digest once (digests.ts), and
// the Deployment runs the images by digest.
import type { PodAutoscaler } from '../../lib/apis/autoscaling.ts';
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { RevisionConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import { Labels, type RevisionSpec, type Revision } from '../../lib/apis/serving.ts';
import type { AutoscalerConfig } from '../../lib/config/autoscaler.ts';
import type { DeploymentConfig } from '../../lib/config/deployment.ts';
import type { Features } from '../../lib/config/features.ts';
import type { LoggingConfig } from '../../lib/config/logging.ts';
import type { ReservedInstanceConfig } from '../../lib/config/reservedInstance.ts';
import { ConfigUnavailable } from '../../lib/config/store.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { objectKey, type Lister } from '../../lib/kube/store.ts';
import { ownedChild } from '../../lib/reconciler/child.ts';
import { reconcileRevisionChild, type RevisionChild } from './child.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds } from '../../lib/reconciler/kinds.ts';
import type { RevisionConfig } from './config.ts';
import { DEPLOYMENT_HASH_LABEL, withHash } from './deploymentHash.ts';
import { makeDeployment } from './resources/deployment.ts';
import { makePodAutoscaler } from './resources/podAutoscaler.ts';
import { reservedInstanceReconciler, type InstanceModeRecorder } from './reservedInstance.ts';
import { isFailing, propagateAutoscalerStatus, propagateDeploymentStatus, RevisionReasons } from './status.ts';
import { hasContainerStatuses, resolveContainerStatuses, type DigestResolver } from './digests.ts';

/** What the revision reconciler reads from the config store; config-deployment may be unusable. */
export interface RevisionConfigSnapshot {
  deployment: DeploymentConfig | ConfigUnavailable;
  autoscaler: AutoscalerConfig;
  features: Features;
  logging: LoggingConfig;
  reservedInstance: ReservedInstanceConfig;
}

export interface RevisionReconcilerDeps {
  client: KubeRest;
  deployments: Lister<V1Deployment>;
  pods: Lister<V1Pod>;
  podAutoscalers: Lister<PodAutoscaler>;
  /** The reserved instances' Services (serviceType=Reserved). */
  reservedServices: Lister<V1Service>;
  recordInstanceMode: InstanceModeRecorder;
  config(): Readonly<RevisionConfigSnapshot>;
  systemNamespace: string;
  resolveDigest: DigestResolver;
  /** Where queue-proxies announce their pods, and the key of the revisions' tokens; none: no announce. */
  announce?: { host: string; key(): Promise<Buffer> };
}

export function revisionReconciler(deps: RevisionReconcilerDeps) {
  const reconcileReservedInstance = reservedInstanceReconciler({
    client: deps.client,
    deployments: deps.deployments,
    services: deps.reservedServices,
    recordInstanceMode: deps.recordInstanceMode,
  });
  /** The four beats for a child of the revision; undefined when it is not ours or not cached yet. */
  async function reconcileOwnedChild<C extends V1Deployment | PodAutoscaler>(
    rev: Revision,
    child: RevisionChild<C>,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<{ child: C; created: boolean } | undefined> {
    const result = await reconcileRevisionChild(deps.client, rev, child, ctx);
    const owned = ownedChild(result, manager, 'ResourcesAvailable', RevisionReasons.notOwned);
    return owned && { child: owned, created: result.state === 'created' };
  }

  async function reconcileDeployment(
    rev: Revision,
    config: RevisionConfig,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<V1Deployment | undefined> {
    const desired = withHash(makeDeployment(rev, config));
    const reconciled = await reconcileOwnedChild(
      rev,
      {
        kind: Kinds.deployment,
        description: 'Deployment',
        existing: deps.deployments.get(objectKey(desired)),
        desired,
        spec: {
          equal: (have, want) =>
            have.metadata?.labels?.[DEPLOYMENT_HASH_LABEL] === want.metadata?.labels?.[DEPLOYMENT_HASH_LABEL],
          // The autoscaler owns the replica count once the Deployment exists.
          apply: (have, want) => ({ ...have, spec: { ...want.spec!, replicas: have.spec?.replicas } }),
        },
      },
      manager,
      ctx,
    );
    if (!reconciled) return undefined;
    if (reconciled.created) {
      // As upstream: until the pods report, neither resources nor containers are known to be fine.
      manager.markUnknown('ResourcesAvailable', RevisionReasons.deploying, '');
      manager.markUnknown('ContainerHealthy', RevisionReasons.deploying, '');
      return reconciled.child;
    }
    const uid = rev.metadata?.uid;
    const pods = deps.pods
      .listNamespace(rev.metadata?.namespace ?? '')
      .filter((pod) => pod.metadata?.labels?.[Labels.revisionUID] === uid);
    propagateDeploymentStatus(manager, reconciled.child, pods);
    return reconciled.child;
  }

  async function reconcilePodAutoscaler(
    rev: Revision,
    deployment: V1Deployment,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<PodAutoscaler | undefined> {
    const desired = makePodAutoscaler(rev, { failing: isFailing(manager, deployment) });
    const reconciled = await reconcileOwnedChild(
      rev,
      {
        kind: Kinds.podAutoscaler,
        description: 'PodAutoscaler',
        existing: deps.podAutoscalers.get(objectKey(desired)),
        desired,
      },
      manager,
      ctx,
    );
    return reconciled?.child;
  }

  return async function reconcileRevision(rev: Revision, ctx: ReconcileContext): Promise<void> {
    const status = (rev.status ??= {});
    const manager = RevisionConditions.manage(status, ctx.clock);
    manager.initialize();
    const snapshot = deps.config();
    if (snapshot.deployment instanceof ConfigUnavailable) {
      // Nothing can run without the queue-proxy image; the ConfigMap's fix re-enqueues us.
      manager.markFalse('ResourcesAvailable', RevisionReasons.invalidConfiguration, snapshot.deployment.message);
      return;
    }
    const spec = rev.spec as RevisionSpec;
    if (!hasContainerStatuses(status, spec)) {
      try {
        Object.assign(
          status,
          await resolveContainerStatuses(spec, deps.resolveDigest, {
            registriesSkippingTagResolving: snapshot.deployment.registriesSkippingTagResolving,
            timeoutMs: snapshot.deployment.digestResolutionTimeoutMs,
          }),
        );
      } catch (error) {
        // As upstream: the Revision fails, and the error retries with back-off, so an image pushed
        // later is still found.
        manager.markFalse('ContainerHealthy', RevisionReasons.containerMissing, (error as Error).message);
        throw error;
      }
    }
    const config: RevisionConfig = {
      deployment: snapshot.deployment,
      autoscaler: snapshot.autoscaler,
      features: snapshot.features,
      logging: snapshot.logging,
      systemNamespace: deps.systemNamespace,
      ...(deps.announce === undefined
        ? {}
        : { announce: { host: deps.announce.host, key: await deps.announce.key() } }),
    };
    const deployment = await reconcileDeployment(rev, config, manager, ctx);
    if (!deployment) return;
    const pa = await reconcilePodAutoscaler(rev, deployment, manager, ctx);
    if (!pa) return;
    // Until the autoscaler reports its own counts, the Deployment's are the best we know.
    status.actualReplicas = deployment.status?.readyReplicas ?? 0;
    status.desiredReplicas = deployment.spec?.replicas ?? 0;
    propagateAutoscalerStatus(status, manager, pa);
    await reconcileReservedInstance({ rev, config, reservedInstance: snapshot.reservedInstance, pa, manager, ctx });
  };
}
