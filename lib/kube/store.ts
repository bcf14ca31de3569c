// The informer's cache: objects keyed `namespace/name` (just `name` when cluster-scoped), with a
// by-namespace index so namespaced listers do not scan everything.
import type { KubernetesObject } from '@kubernetes/client-node';

export function objectKey(object: KubernetesObject): string {
  const name = object.metadata?.name;
  if (!name) throw new Error('object has no metadata.name');
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The read-only view handed to reconcilers. */
export interface Lister<T extends KubernetesObject> {
  get(key: string): T | undefined;
  list(): T[];
  listNamespace(namespace: string): T[];
}

export class Store<T extends KubernetesObject> implements Lister<T> {
  #objects = new Map<string, T>();
  #byNamespace = new Map<string, Set<string>>();

  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  list(): T[] {
    return [...this.#objects.values()];
  }

  listNamespace(namespace: string): T[] {
    return [...(this.#byNamespace.get(namespace) ?? [])].map((key) => this.#objects.get(key)!);
  }

  /** Stores object and returns what it replaced. */
  set(object: T): T | undefined {
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    this.#objects.set(key, object);
    const namespace = object.metadata?.namespace;
    if (namespace) {
      let keys = this.#byNamespace.get(namespace);
      if (!keys) this.#byNamespace.set(namespace, (keys = new Set()));
      keys.add(key);
    }
    return previous;
  }

  /** Removes the object's key and returns what was cached under it. */
  delete(object: T): T | undefined {
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    if (!previous) return undefined;
    this.#objects.delete(key);
    const namespace = previous.metadata?.namespace;
    const keys = namespace ? this.#byNamespace.get(namespace) : undefined;
    keys?.delete(key);
    if (namespace && keys?.size === 0) this.#byNamespace.delete(namespace);
    return previous;
  }
}
