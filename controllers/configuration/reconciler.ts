// Configuration → one immutable Revision per generation, and which of them is latest created and
// latest ready (upstream pkg/reconciler/configuration/configuration.go).
import { ConfigurationConditions, type ConditionManager } from '../../lib/apis/conditions.ts';
import { isControlledBy } from '../../lib/apis/kmeta.ts';
import { Labels, type Revision, type Configuration } from '../../lib/apis/serving.ts';
import { conditionOf, isFailed } from '../../lib/apis/status.ts';
import { isAlreadyExists } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Lister } from '../../lib/kube/store.ts';
import { createObject, sameJson } from '../../lib/reconciler/crud.ts';
import type { ReconcileContext } from '../../lib/reconciler/kindReconciler.ts';
import { Kinds, objectPath } from '../../lib/reconciler/kinds.ts';
import { pickLatestReady } from './latestReady.ts';
import { makeRevision, revisionName } from './resources/revision.ts';

export interface ConfigurationReconcilerDeps {
  client: KubeRest;
  revisions: Lister<Revision>;
}

export const ConfigurationReasons = { revisionFailed: 'RevisionFailed' } as const;

export function configurationReconciler(deps: ConfigurationReconcilerDeps) {
  const ownRevisions = (cfg: Configuration) =>
    deps.revisions.listNamespace(cfg.metadata?.namespace ?? '').filter((rev) => isControlledBy(rev, cfg));

  async function create(cfg: Configuration, ctx: ReconcileContext): Promise<Revision> {
    const desired = makeRevision(cfg, new Date(ctx.clock.now()));
    try {
      const created = await createObject(deps.client, Kinds.revision, desired);
      void ctx.events.event(cfg, 'Normal', 'Created', `Created Revision "${created.metadata?.name}"`);
      return created;
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      // Created by us a moment ago, before our cache saw it; anything else is judged below.
      return await deps.client.request<Revision>('GET', objectPath(Kinds.revision, desired));
    }
  }

  /** The revision of the current generation, created if missing; undefined if its name is taken. */
  async function latestCreated(
    cfg: Configuration,
    manager: ConditionManager,
    ctx: ReconcileContext,
  ): Promise<Revision | undefined> {
    const generation = String(cfg.metadata?.generation ?? 0);
    const byo = cfg.spec?.template?.metadata?.name;
    let rev = byo
      ? deps.revisions.get(`${cfg.metadata?.namespace}/${byo}`)
      : // Looked up by label, not name, so a restart never stamps out a second revision for a generation.
        ownRevisions(cfg).find((r) => r.metadata?.labels?.[Labels.configurationGeneration] === generation);
    rev ??= await create(cfg, ctx);
    const reusable =
      isControlledBy(rev, cfg) &&
      (rev.metadata?.labels?.[Labels.configurationGeneration] === generation ||
        sameJson(rev.spec, cfg.spec?.template?.spec));
    if (reusable) return rev;
    const name = revisionName(cfg);
    manager.markFalse(
      'Ready',
      ConfigurationReasons.revisionFailed,
      `Revision creation failed with message: revisions.serving.knative.dev "${name}" already exists.`,
    );
    void ctx.events.event(
      cfg,
      'Warning',
      'CreationFailed',
      `Failed to create Revision "${name}": the name is taken by another revision`,
    );
    return undefined;
  }

  return async function reconcileConfiguration(cfg: Configuration, ctx: ReconcileContext): Promise<void> {
    const status = (cfg.status ??= {});
    const manager = ConfigurationConditions.manage(status, ctx.clock);
    manager.initialize();
    const rev = await latestCreated(cfg, manager, ctx);
    if (!rev) return;
    const name = rev.metadata?.name ?? '';
    status.latestCreatedRevisionName = name;

    const previousReady = status.latestReadyRevisionName;
    const latestReady = pickLatestReady([...ownRevisions(cfg), rev], previousReady, cfg.metadata?.generation ?? 0);
    if (latestReady && latestReady !== previousReady) {
      status.latestReadyRevisionName = latestReady;
      if (!previousReady) void ctx.events.event(cfg, 'Normal', 'ConfigurationReady', 'Configuration becomes ready');
      void ctx.events.event(cfg, 'Normal', 'LatestReadyUpdate', `LatestReadyRevisionName updated to "${latestReady}"`);
    }

    if (status.latestReadyRevisionName === name) {
      manager.markTrue('Ready');
    } else if (isFailed(rev)) {
      const message = conditionOf(rev.status, 'Ready')?.message ?? '';
      if (conditionOf(status, 'Ready')?.reason !== ConfigurationReasons.revisionFailed) {
        void ctx.events.event(cfg, 'Warning', 'LatestCreatedFailed', `Latest created revision "${name}" has failed`);
      }
      manager.markFalse(
        'Ready',
        ConfigurationReasons.revisionFailed,
        `Revision "${name}" failed with message: ${message}.`,
      );
    } else {
      manager.markUnknown('Ready', '', '');
    }
  };
}
