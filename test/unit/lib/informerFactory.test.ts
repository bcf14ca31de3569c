// lib/kube/informerFactory.ts against an API that counts lists and watches: consumers of the same
// selection share one informer; another selector or namespace gets its own; nothing runs before start.
import type { HttpMethod, KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InformerFactory } from '../../../lib/kube/informerFactory.ts';
import type { KubeRest, Query, RequestOptions, WatchEvent } from '../../../lib/kube/rest.ts';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Lists one object per collection and keeps each watch open until it is aborted. */
class CountingApi implements KubeRest {
  readonly calls: string[] = [];
  openWatches = 0;

  async request<T>(_method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    this.calls.push(`list ${path}${selectors(options.query)}`);
    const item: KubernetesObject = { metadata: { namespace: 'ns', name: 'a', resourceVersion: '1' } };
    return { kind: 'ThingList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [item] } as T;
  }

  async *watch<T extends KubernetesObject>(path: string, options: RequestOptions = {}): AsyncIterable<WatchEvent<T>> {
    this.calls.push(`watch ${path}${selectors(options.query)}`);
    this.openWatches++;
    try {
      await new Promise<void>((resolve) => {
        if (options.signal?.aborted) resolve();
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      this.openWatches--;
    }
  }
}

const selectors = (query: Query = {}) =>
  [query.labelSelector, query.fieldSelector]
    .filter((s) => s !== undefined)
    .map((s) => ` ${s}`)
    .join('');

describe('InformerFactory', () => {
  it('hands every consumer of one selection the same informer: one list, one watch, each consumer its handlers', async () => {
    const api = new CountingApi();
    const factory = new InformerFactory({ client: api });
    const first = factory.informer({ path: '/apis/x/v1/things' });
    const second = factory.informer({ path: '/apis/x/v1/things' });
    expect(second).toBe(first);
    const seen: string[] = [];
    first.addHandlers({ onAdd: (o) => seen.push(`first ${o.metadata?.name}`) });
    second.addHandlers({ onAdd: (o) => seen.push(`second ${o.metadata?.name}`) });
    await settle();
    expect(api.calls).toEqual([]);

    factory.start();
    await first.whenSynced();
    await settle();
    expect(api.calls).toEqual(['list /apis/x/v1/things', 'watch /apis/x/v1/things']);
    expect(seen).toEqual(['first a', 'second a']);
    await factory.stop();
    expect(api.openWatches).toBe(0);
  });

  it('gives another namespace or selector an informer of its own, and starts one handed out after start at once', async () => {
    const api = new CountingApi();
    const factory = new InformerFactory({ client: api });
    const all = factory.informer({ path: '/api/v1/services' });
    factory.start();
    const labelled = factory.informer({ path: '/api/v1/services', labelSelector: 'app' });
    const named = factory.informer({ path: '/api/v1/services', fieldSelector: 'metadata.name=a' });
    const inNamespace = factory.informer({ path: '/api/v1/namespaces/ns/services', labelSelector: 'app' });
    expect(new Set([all, labelled, named, inNamespace]).size).toBe(4);
    await Promise.all([all, labelled, named, inNamespace].map((informer) => informer.whenSynced()));
    await settle();
    expect(api.calls.filter((call) => call.startsWith('watch')).sort()).toEqual([
      'watch /api/v1/namespaces/ns/services app',
      'watch /api/v1/services',
      'watch /api/v1/services app',
      'watch /api/v1/services metadata.name=a',
    ]);
    expect(api.openWatches).toBe(4);
    await factory.stop();
    expect(api.openWatches).toBe(0);
  });
});
