// Writes of child objects. Reads always come from listers; only writes go to the API server.
import type { KubernetesObject } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { isNotFound } from '../kube/errors.ts';
import type { KubeRest } from '../kube/rest.ts';
import { collectionPath, objectPath, type Kind } from './kinds.ts';

export function createObject<T extends KubernetesObject>(client: KubeRest, kind: Kind, object: T): Promise<T> {
  return client.request<T>('POST', collectionPath(kind, object.metadata?.namespace), { body: object });
}

/** Replaces the object; its resourceVersion makes a write based on a stale read fail with a conflict. */
export function updateObject<T extends KubernetesObject>(client: KubeRest, kind: Kind, object: T): Promise<T> {
  return client.request<T>('PUT', objectPath(kind, object), { body: object });
}

/** Deletes this very object: the uid precondition spares a replacement created since it was read. Gone already is fine. */
export async function deleteObject(client: KubeRest, kind: Kind, object: KubernetesObject): Promise<void> {
  try {
    await client.request('DELETE', objectPath(kind, object), {
      body: { preconditions: { uid: object.metadata?.uid } },
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export function mergePatch<T extends KubernetesObject>(
  client: KubeRest,
  kind: Kind,
  object: KubernetesObject,
  patch: unknown,
): Promise<T> {
  return client.request<T>('PATCH', objectPath(kind, object), {
    body: patch,
    contentType: 'application/merge-patch+json',
  });
}

/** Equal as they would be on the wire: undefined fields do not count. */
export function sameJson(a: unknown, b: unknown): boolean {
  const plain = (value: unknown) => (value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown));
  return isDeepStrictEqual(plain(a), plain(b));
}

/** Whether every entry of wanted is present in have with the same value. */
export function containsAll(
  have: Record<string, string> | undefined,
  wanted: Record<string, string> | undefined,
): boolean {
  return Object.entries(wanted ?? {}).every(([key, value]) => have?.[key] === value);
}
