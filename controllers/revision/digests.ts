// Tag-to-digest resolution (upstream pkg/reconciler/revision/resolve.go): when a Revision is
// created, each container's image tag is looked up in its registry once, so every pod the
// Revision ever runs starts the same image even if the tag moves later. Registries in
// config-deployment's registries-skipping-tag-resolving keep their tags. Lookups are anonymous
// (a registry's bearer challenge is answered with an anonymous pull token); image pull secrets
// and service-account credentials are not read.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Container, RevisionSpec } from '../../lib/apis/serving.ts';
import type { ContainerStatus } from '../../lib/apis/status.ts';
import {
  MANIFEST_MEDIA_TYPES,
  anonymousPullToken,
  describeFailure,
  headerOf,
  parseBearerChallenge,
  registryBase,
  type RegistryClient,
} from '../../lib/oci/client.ts';
import { parseImageReference, repositoryOf } from '../../lib/oci/reference.ts';

/**
 * The cluster's CA, mounted into every pod with its service account token. Like upstream, the
 * resolver trusts it besides the system roots, so a registry whose certificate the cluster's CA
 * issued (the local cluster's) needs no further configuration.
 */
export const CLUSTER_CA_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

export const clusterCaCertificates = (path = CLUSTER_CA_PATH): string[] =>
  existsSync(path) ? [readFileSync(path, 'utf8')] : [];

/** Knative's wording for a container whose image cannot be fetched. */
export const containerMissingMessage = (image: string, detail: string) => `Unable to fetch image "${image}": ${detail}`;

export interface ResolveOptions {
  registriesSkippingTagResolving: readonly string[];
  timeoutMs: number;
}

/** Resolves image to registry/repository@sha256:…, or undefined when its registry is skipped. */
export type DigestResolver = (image: string, options: ResolveOptions) => Promise<string | undefined>;

export function createDigestResolver(client: RegistryClient): DigestResolver {
  return async (image, options) => {
    const ref = parseImageReference(image);
    if (ref.digest) return image;
    if (options.registriesSkippingTagResolving.includes(ref.registry)) return undefined;
    const signal = AbortSignal.timeout(options.timeoutMs);
    const url = `${registryBase(ref.registry)}/${ref.repository}/manifests/${ref.tag}`;
    const headers: Record<string, string> = { accept: MANIFEST_MEDIA_TYPES.join(', ') };
    const ask = (method: 'HEAD' | 'GET') => client.request(url, { method, headers, signal });
    let response = await ask('HEAD');
    const challenge =
      response.status === 401 ? parseBearerChallenge(headerOf(response, 'www-authenticate')) : undefined;
    if (challenge) {
      headers.authorization = `Bearer ${await anonymousPullToken(client, challenge, ref.repository, signal)}`;
      response = await ask('HEAD');
    }
    // A HEAD answer has no body; GET brings the registry's own explanation, or the manifest
    // itself when a registry names no digest.
    const digest = response.status === 200 ? headerOf(response, 'docker-content-digest') : undefined;
    if (digest) return `${repositoryOf(ref)}@${digest}`;
    response = await ask('GET');
    if (response.status !== 200) throw new Error(describeFailure('GET', url, response));
    return `${repositoryOf(ref)}@sha256:${createHash('sha256').update(response.body).digest('hex')}`;
  };
}

/**
 * The containers' statuses with their resolved digests (empty for skipped registries), as
 * upstream writes them once per Revision. The first image that cannot be resolved is the error,
 * worded as upstream's ContainerMissing message.
 */
export async function resolveContainerStatuses(
  spec: RevisionSpec,
  resolve: DigestResolver,
  options: ResolveOptions,
): Promise<{ containerStatuses: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] }> {
  const statuses = (containers: Container[]) =>
    Promise.all(
      containers.map(async (c): Promise<ContainerStatus> => {
        let digest: string | undefined;
        try {
          digest = c.image ? await resolve(c.image, options) : undefined;
        } catch (error) {
          throw new Error(
            containerMissingMessage(c.image ?? '', `failed to resolve image to digest: ${(error as Error).message}`),
          );
        }
        return { name: c.name, ...(digest ? { imageDigest: digest } : {}) };
      }),
    );
  const containerStatuses = await statuses(spec.containers);
  const init = spec.initContainers as Container[] | undefined;
  return init?.length ? { containerStatuses, initContainerStatuses: await statuses(init) } : { containerStatuses };
}

/** Resolved once: a status per container (upstream compares the counts the same way). */
export const hasContainerStatuses = (
  status: { containerStatuses?: unknown[]; initContainerStatuses?: unknown[] },
  spec: RevisionSpec,
) =>
  (status.containerStatuses?.length ?? 0) + (status.initContainerStatuses?.length ?? 0) ===
  spec.containers.length + (spec.initContainers?.length ?? 0);
