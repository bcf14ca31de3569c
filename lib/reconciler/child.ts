// The four beats of a child object, written once for every reconciler: read it (from the
// lister, by the caller), create it when absent, refuse it when someone else controls it, and
// update it only when it differs from what the parent wants. What varies between reconcilers is
// policy, given as options: how labels and annotations are kept, which part of the spec counts,
// which events are recorded, and what a name taken by a stranger means to the parent.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ConditionManager } from '../apis/conditions.ts';
import { isControlledBy } from '../apis/kmeta.ts';
import { isAlreadyExists } from '../kube/errors.ts';
import type { EventSink } from '../kube/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import { containsAll, createObject, sameJson, updateObject } from './crud.ts';
import { objectPath, type Kind } from './kinds.ts';

/**
 * How a child's labels and annotations are kept:
 * - `dictate`: the parent's are the child's, whole; a key removed from the parent goes from the
 *   child (upstream's Service and its Configuration and Route).
 * - `merge`: the parent's keys are set and every other key is left alone, for children other
 *   controllers also write to (Deployments, Ingresses, Services).
 * - `leave`: only the spec is reconciled (upstream's ServerlessService and HPA).
 */
export type MetadataPolicy = 'dictate' | 'merge' | 'leave';

export interface ChildOptions<C extends KubernetesObject> {
  client: KubeRest;
  kind: Kind;
  /** How events and conditions name the child's kind, e.g. `Deployment` or `placeholder service`. */
  description: string;
  /** The parent: it must control the child, and events are recorded on it. */
  owner: KubernetesObject;
  /** The child as the lister has it; undefined when absent. */
  existing: C | undefined;
  /** The child the parent wants, given the existing one (some builders carry a key over). */
  desired: (existing: C | undefined) => C;
  metadata: MetadataPolicy;
  /** The part of the spec that is ours to compare and write; default the whole spec. */
  spec?: {
    equal(existing: C, desired: C): boolean;
    apply(existing: C, desired: C): C;
  };
  events: EventSink;
  /** Record `Created` on the parent (upstream does for most children, not for a Revision's). */
  createdEvent: boolean;
  /**
   * When the create answers AlreadyExists: `wait` for the informer, which lags our own create and
   * brings the object with the next event; `read` it from the API server now, for children our
   * informer may never see (one without our labels).
   */
  onAlreadyExists: 'wait' | 'read';
}

export type ChildResult<C> =
  | { state: 'created' | 'updated' | 'unchanged'; child: C }
  /** The name is taken by an object the parent does not control; `message` says so in Knative's words. */
  | { state: 'notOwned'; child: C; message: string }
  /** Created by us a moment ago, not in the cache yet. */
  | { state: 'pending' };

type WithSpec = KubernetesObject & { spec?: unknown };

function wholeSpec<C extends KubernetesObject>(): NonNullable<ChildOptions<C>['spec']> {
  return {
    equal: (existing, desired) => sameJson((existing as WithSpec).spec, (desired as WithSpec).spec),
    apply: (existing, desired) => ({ ...existing, spec: (desired as WithSpec).spec }),
  };
}

function metadataDiffers(policy: MetadataPolicy, existing: KubernetesObject, desired: KubernetesObject): boolean {
  const have = existing.metadata;
  const want = desired.metadata;
  if (policy === 'leave') return false;
  if (policy === 'dictate')
    return (
      !sameJson(have?.labels ?? {}, want?.labels ?? {}) || !sameJson(have?.annotations ?? {}, want?.annotations ?? {})
    );
  return !containsAll(have?.labels, want?.labels) || !containsAll(have?.annotations, want?.annotations);
}

function withMetadata<C extends KubernetesObject>(policy: MetadataPolicy, updated: C, existing: C, desired: C): C {
  if (policy === 'leave') return updated;
  const labels =
    policy === 'dictate' ? desired.metadata?.labels : { ...existing.metadata?.labels, ...desired.metadata?.labels };
  const annotations =
    policy === 'dictate'
      ? desired.metadata?.annotations
      : { ...existing.metadata?.annotations, ...desired.metadata?.annotations };
  return { ...updated, metadata: { ...existing.metadata, labels, annotations } };
}

export async function reconcileChild<C extends KubernetesObject>(options: ChildOptions<C>): Promise<ChildResult<C>> {
  const { client, kind, description, owner, events } = options;
  const spec = options.spec ?? wholeSpec<C>();
  let existing = options.existing;
  if (!existing) {
    const desired = options.desired(undefined);
    const name = desired.metadata?.name ?? '';
    try {
      const created = await createObject(client, kind, desired);
      if (options.createdEvent) void events.event(owner, 'Normal', 'Created', `Created ${description} "${name}"`);
      return { state: 'created', child: created };
    } catch (error) {
      if (!isAlreadyExists(error)) {
        const reason = error instanceof Error ? error.message : String(error);
        void events.event(owner, 'Warning', 'CreationFailed', `Failed to create ${description} "${name}": ${reason}`);
        throw error;
      }
      if (options.onAlreadyExists === 'wait') return { state: 'pending' };
      existing = await client.request<C>('GET', objectPath(kind, desired));
    }
  }
  if (!isControlledBy(existing, owner)) {
    const message = `There is an existing ${description} "${existing.metadata?.name}" that we do not own.`;
    return { state: 'notOwned', child: existing, message };
  }
  const desired = options.desired(existing);
  if (spec.equal(existing, desired) && !metadataDiffers(options.metadata, existing, desired))
    return { state: 'unchanged', child: existing };
  const updated = withMetadata(options.metadata, spec.apply(structuredClone(existing), desired), existing, desired);
  return { state: 'updated', child: await updateObject(client, kind, updated) };
}

/**
 * What most parents do with the result: the child, or undefined while our create is not cached
 * yet or when someone else holds its name, which `condition` then says (False, `reason`, Knative's
 * message).
 */
export function ownedChild<C>(
  result: ChildResult<C>,
  conditions: ConditionManager,
  condition: string,
  reason: string,
): C | undefined {
  if (result.state === 'pending') return undefined;
  if (result.state === 'notOwned') {
    conditions.markFalse(condition, reason, result.message);
    return undefined;
  }
  return result.child;
}
