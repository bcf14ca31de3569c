// reconcileChild against a recording fake API server: every branch of the four beats, including
// the faults a real server rarely produces on cue (a create racing our cache, a failed create, a
// conflicting update, a name held by a stranger).
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isConflict } from '../../../lib/kube/errors.ts';
import { ServiceConditions } from '../../../lib/apis/conditions.ts';
import { ownedChild, reconcileChild, type ChildOptions, type MetadataPolicy } from '../../../lib/reconciler/child.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';
import { Kinds } from '../../../lib/reconciler/kinds.ts';
import { RecordingKube, recordingEvents } from '../../support/recordingKube.ts';

const PATH = '/api/v1/namespaces/team/configmaps';
const kind = { base: '/api/v1', plural: 'configmaps' };
const owner = { apiVersion: 'v1', kind: 'Parent', metadata: { name: 'parent', namespace: 'team', uid: 'parent-uid' } };
const controlledBy = (uid: string) => [
  { apiVersion: 'v1', kind: 'Parent', name: 'parent', uid, controller: true, blockOwnerDeletion: true },
];

function child(data: Record<string, string>, metadata: Partial<V1ConfigMap['metadata']> = {}): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'child', namespace: 'team', ownerReferences: controlledBy('parent-uid'), ...metadata },
    data,
  };
}

/** ConfigMaps have data, not spec: the options say which part is ours. */
const dataSpec: ChildOptions<V1ConfigMap>['spec'] = {
  equal: (existing, desired) => JSON.stringify(existing.data) === JSON.stringify(desired.data),
  apply: (existing, desired) => ({ ...existing, data: desired.data }),
};

function options(
  client: RecordingKube,
  existing: V1ConfigMap | undefined,
  desired: V1ConfigMap,
  overrides: Partial<ChildOptions<V1ConfigMap>> = {},
) {
  const { recorder, events } = recordingEvents();
  const opts: ChildOptions<V1ConfigMap> = {
    client,
    kind,
    description: 'ConfigMap',
    owner,
    existing,
    desired: () => desired,
    metadata: 'merge' as MetadataPolicy,
    spec: dataSpec,
    events: recorder,
    createdEvent: true,
    onAlreadyExists: 'wait',
    ...overrides,
  };
  return { opts, events };
}

describe('reconcileChild', () => {
  it('creates an absent child and records Created on the parent', async () => {
    const client = new RecordingKube();
    const { opts, events } = options(client, undefined, child({ a: '1' }));
    const result = await reconcileChild(opts);
    expect(result.state).toBe('created');
    expect(client.lines).toEqual([`POST ${PATH}`]);
    expect(events).toEqual([
      { object: 'parent', type: 'Normal', reason: 'Created', message: 'Created ConfigMap "child"' },
    ]);
  });

  it('records no Created event when the policy says so', async () => {
    const client = new RecordingKube();
    const { opts, events } = options(client, undefined, child({ a: '1' }), { createdEvent: false });
    expect((await reconcileChild(opts)).state).toBe('created');
    expect(events).toEqual([]);
  });

  it('waits for the informer when a create races our own earlier create (AlreadyExists)', async () => {
    const client = new RecordingKube().on('POST', PATH, { status: 409, message: 'already exists' });
    const { opts, events } = options(client, undefined, child({ a: '1' }));
    expect(await reconcileChild(opts)).toEqual({ state: 'pending' });
    expect(client.lines).toEqual([`POST ${PATH}`]);
    expect(events).toEqual([]);
  });

  it('reads the child on AlreadyExists when asked to, then judges it like a listed one', async () => {
    const stranger = child({ a: '0' }, { ownerReferences: controlledBy('someone-else') });
    const client = new RecordingKube()
      .on('POST', PATH, { status: 409 })
      .on('GET', `${PATH}/child`, { object: stranger });
    const { opts } = options(client, undefined, child({ a: '1' }), { onAlreadyExists: 'read' });
    const result = await reconcileChild(opts);
    expect(result.state).toBe('notOwned');
    expect(client.lines).toEqual([`POST ${PATH}`, `GET ${PATH}/child`]);
  });

  it('records CreationFailed with the reason and rethrows when a create fails', async () => {
    const client = new RecordingKube().on('POST', PATH, { status: 422, message: 'data: Invalid value' });
    const { opts, events } = options(client, undefined, child({ a: '1' }));
    await expect(reconcileChild(opts)).rejects.toThrow('data: Invalid value');
    expect(events).toEqual([
      {
        object: 'parent',
        type: 'Warning',
        reason: 'CreationFailed',
        message: 'Failed to create ConfigMap "child": data: Invalid value',
      },
    ]);
  });

  it('refuses a child another owner controls, in Knative words, without writing', async () => {
    const client = new RecordingKube();
    const stranger = child({ a: '0' }, { ownerReferences: controlledBy('someone-else') });
    const { opts } = options(client, stranger, child({ a: '1' }));
    expect(await reconcileChild(opts)).toEqual({
      state: 'notOwned',
      child: stranger,
      message: 'There is an existing ConfigMap "child" that we do not own.',
    });
    expect(client.calls).toEqual([]);
  });

  it('leaves an equal child alone', async () => {
    const client = new RecordingKube();
    const existing = child({ a: '1' }, { labels: { mine: 'x', theirs: 'y' }, resourceVersion: '7' });
    const { opts } = options(client, existing, child({ a: '1' }, { labels: { mine: 'x' } }));
    expect((await reconcileChild(opts)).state).toBe('unchanged');
    expect(client.calls).toEqual([]);
  });

  it('merge: updates our part and our keys, keeping keys others wrote and the resourceVersion', async () => {
    const client = new RecordingKube();
    const existing = child({ a: '1' }, { labels: { mine: 'old', theirs: 'y' }, resourceVersion: '7' });
    const { opts } = options(client, existing, child({ a: '2' }, { labels: { mine: 'new' } }));
    expect((await reconcileChild(opts)).state).toBe('updated');
    expect(client.lines).toEqual([`PUT ${PATH}/child`]);
    const written = client.calls[0]!.body as V1ConfigMap;
    expect(written.data).toEqual({ a: '2' });
    expect(written.metadata?.labels).toEqual({ mine: 'new', theirs: 'y' });
    expect(written.metadata?.resourceVersion).toBe('7');
  });

  it('dictate: a key removed from the parent goes from the child', async () => {
    const client = new RecordingKube();
    const existing = child({ a: '1' }, { labels: { mine: 'x', removed: 'y' }, annotations: { gone: 'z' } });
    const { opts } = options(client, existing, child({ a: '1' }, { labels: { mine: 'x' } }), { metadata: 'dictate' });
    expect((await reconcileChild(opts)).state).toBe('updated');
    const written = client.calls[0]!.body as V1ConfigMap;
    expect(written.metadata?.labels).toEqual({ mine: 'x' });
    expect(written.metadata?.annotations).toBeUndefined();
  });

  it('lets a conflicting update through as a conflict, for the retry to sort out', async () => {
    const client = new RecordingKube().on('PUT', `${PATH}/child`, {
      status: 409,
      message: 'the object has been modified',
    });
    const { opts, events } = options(client, child({ a: '1' }), child({ a: '2' }));
    const failure = await reconcileChild(opts).catch((error: unknown) => error);
    expect(isConflict(failure)).toBe(true);
    expect(events).toEqual([]);
  });

  it('compares the whole spec when no part is named', async () => {
    const client = new RecordingKube();
    const existing = { ...child({}), spec: { replicas: 1 } };
    const { opts } = options(client, existing, { ...child({}), spec: { replicas: 2 } } as V1ConfigMap, {
      spec: undefined,
      kind: Kinds.coreService,
    });
    expect((await reconcileChild(opts)).state).toBe('updated');
    expect((client.calls[0]!.body as { spec: unknown }).spec).toEqual({ replicas: 2 });
  });
});

describe('ownedChild', () => {
  const manage = () => {
    const status = {};
    const manager = ServiceConditions.manage(status, new FakeClock());
    manager.initialize();
    return { manager, condition: () => manager.get('RoutesReady') };
  };

  it('gives the child, leaving the condition alone', () => {
    const { manager, condition } = manage();
    const mine = child({ a: '1' });
    expect(ownedChild({ state: 'updated', child: mine }, manager, 'RoutesReady', 'NotOwned')).toBe(mine);
    expect(condition()?.status).toBe('Unknown');
  });

  it('gives nothing while the create is not cached, leaving the condition alone', () => {
    const { manager, condition } = manage();
    expect(ownedChild({ state: 'pending' }, manager, 'RoutesReady', 'NotOwned')).toBeUndefined();
    expect(condition()?.status).toBe('Unknown');
  });

  it("gives nothing for a stranger's object and says so in the condition", () => {
    const { manager, condition } = manage();
    const result = {
      state: 'notOwned' as const,
      child: child({}),
      message: 'There is an existing Route "x" that we do not own.',
    };
    expect(ownedChild(result, manager, 'RoutesReady', 'NotOwned')).toBeUndefined();
    expect(condition()).toMatchObject({ status: 'False', reason: 'NotOwned', message: result.message });
  });
});
