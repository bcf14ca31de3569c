// The one wrapper every reconciler runs in (Knative's generated reconciler, written once): read
// the object from the lister, let reconcileKind mutate a copy's status, bump observedGeneration,
// and write status through the status subresource only when it changed. A kind with a finalizer
// gets it added before its first reconcile and removed once finalizeKind has run on deletion.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from '../clock.ts';
import type { ConditionSet, Status } from '../apis/conditions.ts';
import type { ReconcileResult, Reconciler } from '../controller.ts';
import { isConflict, isNotFound } from '../kube/errors.ts';
import type { EventSink } from '../kube/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Lister } from '../kube/store.ts';
import type { Logger } from '../log.ts';
import { mergePatch, sameJson } from './crud.ts';
import { objectPath, type Kind } from './kinds.ts';

export interface WithStatus extends KubernetesObject {
  status?: Status & object;
}

export interface ReconcileContext {
  log: Logger;
  clock: Clock;
  events: EventSink;
}

export interface KindReconcilerOptions<T extends WithStatus> {
  kind: Kind;
  conditions: ConditionSet;
  lister: Lister<T>;
  client: KubeRest;
  clock: Clock;
  events: EventSink;
  /**
   * Whether this reconciler is the one for the object (e.g. the PodAutoscaler class it serves);
   * an object it does not handle is left alone, its status untouched. Default: all.
   */
  handles?: (object: T) => boolean;
  /** Drops what the reconciler kept for a key whose object is gone, being deleted or not handled. */
  forget?: (key: string, object: T | undefined, context: ReconcileContext) => Promise<void> | void;
  reconcileKind(object: T, context: ReconcileContext): Promise<ReconcileResult | void>;
  /**
   * For children the API server cannot delete with the object (owner references do not cross
   * namespaces or reach cluster-scoped objects). Knative names the finalizer after the resource,
   * e.g. `domainmappings.serving.knative.dev`.
   */
  finalizer?: { name: string; finalizeKind(object: T, context: ReconcileContext): Promise<void> };
}

export function kindReconciler<T extends WithStatus>(options: KindReconcilerOptions<T>): Reconciler {
  const { kind, conditions, lister, client, clock, events } = options;

  const writeStatus = async (object: T, log: Logger) => {
    const path = `${objectPath(kind, object)}/status`;
    try {
      await client.request('PUT', path, { body: object });
    } catch (error) {
      if (isNotFound(error)) return;
      if (!isConflict(error)) throw error;
      // Our cached copy was stale: put the status we computed on the latest object.
      const latest = await client.request<T>('GET', objectPath(kind, object));
      if (sameJson(latest.status, object.status)) return;
      log.debug('status write conflicted; retrying on the latest object');
      await client.request('PUT', path, { body: { ...latest, status: object.status } });
    }
  };

  const { finalizer } = options;
  /** Sets the finalizer list, based on the object's resourceVersion so that a stale read conflicts. */
  const setFinalizers = (object: T, finalizers: string[]) =>
    mergePatch<T>(client, kind, object, {
      metadata: { finalizers, resourceVersion: object.metadata?.resourceVersion },
    });

  return async (key, log) => {
    const cached = lister.get(key);
    if (!cached || (options.handles && !options.handles(cached))) {
      await options.forget?.(key, cached, { log, clock, events });
      return;
    }
    const finalizers = cached.metadata?.finalizers ?? [];
    if (cached.metadata?.deletionTimestamp) {
      await options.forget?.(key, cached, { log, clock, events });
      if (!finalizer || !finalizers.includes(finalizer.name)) return;
      await finalizer.finalizeKind(structuredClone(cached), { log, clock, events });
      await setFinalizers(
        cached,
        finalizers.filter((f) => f !== finalizer.name),
      );
      return;
    }
    const object = structuredClone(cached);
    if (finalizer && !finalizers.includes(finalizer.name)) {
      const patched = await setFinalizers(cached, [...finalizers, finalizer.name]);
      object.metadata = {
        ...object.metadata,
        finalizers: patched.metadata?.finalizers,
        resourceVersion: patched.metadata?.resourceVersion,
      };
    }
    const status = (object.status ??= {});
    const generation = object.metadata?.generation;
    if (status.observedGeneration !== generation) {
      conditions
        .manage(status, clock)
        .markUnknown(conditions.happy, 'NewObservedGenFailure', 'unsuccessfully observed a new generation');
    }

    // biome-ignore lint/complexity/noUselessUndefinedInitialization: tsc cannot see that the try block assigns it before use.
    let result: ReconcileResult | void = undefined;
    let failure: unknown;
    try {
      result = await options.reconcileKind(object, { log, clock, events });
    } catch (error) {
      failure = error;
    }
    // Observed whether or not it went well: the conditions say how it went.
    if (generation !== undefined) status.observedGeneration = generation;
    if (!sameJson(cached.status, object.status)) await writeStatus(object, log);
    if (failure !== undefined) {
      // A conflict only means our cache was behind; the retry sorts it out, users need not hear of it.
      if (!isConflict(failure))
        void events.event(
          object,
          'Warning',
          'InternalError',
          failure instanceof Error ? failure.message : String(failure),
        );
      throw failure;
    }
    return result;
  };
}
