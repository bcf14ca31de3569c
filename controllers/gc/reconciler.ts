// Deletes a Configuration's old revisions as config-gc says; runs on Configurations and on
// changes of their revisions (a revision leaving all routes may make another one collectable).
import { Labels, type Revision, type Configuration } from '../../lib/apis/serving.ts';
import type { Clock } from '../../lib/clock.ts';
import type { GcConfig } from '../../lib/config/gc.ts';
import { isNotFound } from '../../lib/kube/errors.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import { splitKey, type Lister } from '../../lib/kube/store.ts';
import type { Logger } from '../../lib/log.ts';
import { Kinds, objectPath } from '../../lib/reconciler/kinds.ts';
import { revisionsToDelete } from './policy.ts';

/** Time-based staleness needs a look now and then even when nothing changes. */
const RECHECK_MS = 10 * 60_000;

export interface GcReconcilerOptions {
  client: KubeRest;
  configurations: Lister<Configuration>;
  revisions: Lister<Revision>;
  config: () => GcConfig;
  clock: Clock;
}

export function gcReconciler(options: GcReconcilerOptions) {
  return async (key: string, log: Logger): Promise<{ requeueAfterMs?: number } | void> => {
    const configuration = options.configurations.get(key);
    if (!configuration) return;
    const { namespace } = splitKey(key);
    const name = configuration.metadata?.name;
    const revisions = options.revisions
      .listNamespace(namespace ?? '')
      .filter((r) => r.metadata?.labels?.[Labels.configuration] === name && !r.metadata?.deletionTimestamp);
    const doomed = revisionsToDelete(
      revisions.map((r) => ({
        name: r.metadata?.name ?? '',
        creationTimestamp: String(r.metadata?.creationTimestamp ?? ''),
        labels: r.metadata?.labels,
        annotations: r.metadata?.annotations,
      })),
      configuration.status?.latestReadyRevisionName,
      options.config(),
      options.clock.now(),
    );
    for (const revision of revisions.filter((r) => doomed.includes(r.metadata?.name ?? ''))) {
      try {
        await options.client.request('DELETE', objectPath(Kinds.revision, revision));
        log.info('deleted old revision', { revision: revision.metadata?.name });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    const reserve =
      revisions.filter((r) => r.metadata?.labels?.[Labels.routingState] === 'reserve').length - doomed.length;
    return reserve > 0 ? { requeueAfterMs: RECHECK_MS } : undefined;
  };
}
