// The informer's list/watch decisions against a scripted API, for the cases a real server will
// not produce on demand (an expired resourceVersion in the middle of a watch).
import type { HttpMethod, KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { Informer } from '../../../lib/kube/informer.ts';
import type { KubeRest, RequestOptions, WatchEvent } from '../../../lib/kube/rest.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const obj = (name: string, resourceVersion: string): KubernetesObject => ({
  metadata: { namespace: 'ns', name, resourceVersion },
});

class ScriptedApi implements KubeRest {
  readonly calls: string[] = [];
  readonly lists: { resourceVersion: string; items: KubernetesObject[] }[];
  readonly watches: WatchEvent[][];

  constructor(lists: ScriptedApi['lists'], watches: ScriptedApi['watches']) {
    this.lists = lists;
    this.watches = watches;
  }

  async request<T>(_method: HttpMethod, _path: string): Promise<T> {
    this.calls.push('list');
    const next = this.lists.shift();
    if (!next) throw new Error('unexpected list');
    return {
      kind: 'ThingList',
      apiVersion: 'example.dev/v1',
      metadata: { resourceVersion: next.resourceVersion },
      items: next.items,
    } as T;
  }

  async *watch<T extends KubernetesObject>(_path: string, options: RequestOptions = {}): AsyncIterable<WatchEvent<T>> {
    this.calls.push(`watch@${options.query?.resourceVersion}`);
    const events = this.watches.shift();
    if (events) {
      for (const event of events) yield event as WatchEvent<T>;
      return;
    }
    // Script exhausted: behave like a quiet watch until the informer stops.
    await new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}

function record(informer: Informer) {
  const seen: string[] = [];
  informer.addHandlers({
    onAdd: (o) => seen.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    onUpdate: (p, c) =>
      seen.push(`update ${c.metadata?.name}@${p.metadata?.resourceVersion}->${c.metadata?.resourceVersion}`),
    onDelete: (o) => seen.push(`delete ${o.metadata?.name}`),
  });
  return seen;
}

async function runUntil(clock: FakeClock, done: () => boolean): Promise<void> {
  for (let step = 0; step < 50 && !done(); step++) {
    await settle();
    clock.advance(10);
  }
}

describe('Informer (scripted API)', () => {
  it('resumes each watch from the last resourceVersion or bookmark, and relists on 410 without repeating unchanged objects', async () => {
    const api = new ScriptedApi(
      [
        { resourceVersion: '10', items: [obj('a', '1'), obj('b', '2')] },
        { resourceVersion: '20', items: [obj('a', '11'), obj('c', '19')] },
      ],
      [
        [
          { type: 'MODIFIED', object: obj('a', '11') },
          { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } },
        ],
        [{ type: 'ERROR', object: { code: 410, message: 'too old resource version: 15 (18)' } as KubernetesObject }],
      ],
    );
    const clock = new FakeClock();
    const informer = new Informer({
      client: api,
      path: '/apis/example.dev/v1/things',
      clock,
      backoff: { initialMs: 10, maxMs: 10 },
    });
    const seen = record(informer);
    informer.start();
    await informer.whenSynced();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.lister.get('ns/a')?.kind).toBe('Thing');
    await runUntil(clock, () => api.calls.length >= 5);
    await informer.stop();

    expect(api.calls).toEqual(['list', 'watch@10', 'watch@15', 'list', 'watch@20']);
    expect(seen).toEqual(['add a@1', 'add b@2', 'update a@1->11', 'add c@19', 'delete b']);
    expect(
      informer.lister
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(informer.lister.listNamespace('ns')).toHaveLength(2);
    expect(informer.lister.listNamespace('other')).toEqual([]);
  });

  it('re-delivers every cached object as an update each resync period', async () => {
    const api = new ScriptedApi([{ resourceVersion: '5', items: [obj('a', '1'), obj('b', '2')] }], []);
    const clock = new FakeClock();
    const informer = new Informer({ client: api, path: '/x', clock, resyncPeriodMs: 60_000 });
    const seen = record(informer);
    informer.start();
    await informer.whenSynced();
    clock.advance(59_999);
    expect(seen).toEqual(['add a@1', 'add b@2']);
    clock.advance(1);
    expect(seen).toEqual(['add a@1', 'add b@2', 'update a@1->1', 'update b@2->2']);
    await informer.stop();
  });

  it('replays the cache as adds to a handler added after sync, and survives a throwing handler', async () => {
    const api = new ScriptedApi(
      [{ resourceVersion: '5', items: [obj('a', '1')] }],
      [[{ type: 'DELETED', object: obj('a', '2') }]],
    );
    const clock = new FakeClock();
    const informer = new Informer({ client: api, path: '/x', clock });
    informer.addHandlers({
      onAdd: () => {
        throw new Error('broken handler');
      },
    });
    informer.start();
    await informer.whenSynced();
    const seen = record(informer);
    await runUntil(clock, () => seen.length >= 2);
    await informer.stop();
    expect(seen).toEqual(['add a@1', 'delete a']);
  });
});
