import { describe, expect, it } from 'vitest';
import { objectKey, splitKey, Store } from '../../../lib/kube/store.ts';

const obj = (name: string, namespace?: string, resourceVersion = '1') => ({
  metadata: { name, namespace, resourceVersion },
});

describe('Store', () => {
  it('keys namespaced objects namespace/name and cluster-scoped ones by name, and splits keys back', () => {
    expect(objectKey(obj('web', 'team'))).toBe('team/web');
    expect(objectKey(obj('node-1'))).toBe('node-1');
    expect(splitKey('team/web')).toEqual({ namespace: 'team', name: 'web' });
    expect(splitKey('node-1')).toEqual({ namespace: undefined, name: 'node-1' });
    expect(() => objectKey({ metadata: {} })).toThrow(/metadata.name/);
  });

  it('indexes by namespace through replacements and deletes', () => {
    const store = new Store();
    expect(store.set(obj('a', 'x'))).toBeUndefined();
    store.set(obj('b', 'x'));
    store.set(obj('c', 'y'));
    store.set(obj('cluster-wide'));
    expect(store.set(obj('a', 'x', '2'))?.metadata?.resourceVersion).toBe('1');
    expect(store.get('x/a')?.metadata?.resourceVersion).toBe('2');
    expect(
      store
        .listNamespace('x')
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'b']);

    expect(store.delete(obj('a', 'x', '3'))?.metadata?.resourceVersion).toBe('2');
    expect(store.delete(obj('a', 'x'))).toBeUndefined();
    store.delete(obj('c', 'y'));
    expect(store.listNamespace('x').map((o) => o.metadata?.name)).toEqual(['b']);
    expect(store.listNamespace('y')).toEqual([]);
    expect(
      store
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['b', 'cluster-wide']);
  });
});
