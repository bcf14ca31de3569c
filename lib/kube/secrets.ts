// A Secret that one of several writers (controller replicas, an operator ahead of them) creates
// when it is absent, and all then share: create-or-read, the first create winning.
import type { V1Secret } from '@kubernetes/client-node';
import { isAlreadyExists, isNotFound } from './errors.ts';
import type { KubeRest } from './rest.ts';

/** The Secret, or undefined when there is none. */
export async function readSecret(client: KubeRest, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await client.request<V1Secret>('GET', `/api/v1/namespaces/${namespace}/secrets/${name}`);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The Secret named by what `make` builds; when there is none, the one made is created, unless
 * another writer was first: theirs is the Secret then. `created` says whether ours was.
 */
export async function readOrCreateSecret(
  client: KubeRest,
  namespace: string,
  name: string,
  make: () => V1Secret | Promise<V1Secret>,
): Promise<{ secret: V1Secret; created: boolean }> {
  const existing = await readSecret(client, namespace, name);
  if (existing) return { secret: existing, created: false };
  try {
    const body = await make();
    const secret = await client.request<V1Secret>('POST', `/api/v1/namespaces/${namespace}/secrets`, { body });
    return { secret, created: true };
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const theirs = await readSecret(client, namespace, name);
    if (!theirs) throw error;
    return { secret: theirs, created: false };
  }
}
