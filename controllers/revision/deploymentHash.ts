// A fingerprint of the Deployment we want, kept on the live Deployment, so an unchanged revision
// costs no write: the API server fills in defaults, so comparing specs field by field never settles.
import type { V1Deployment } from '@kubernetes/client-node';

export const DEPLOYMENT_HASH_LABEL = 'serving.knative.dev/deployment-hash';

/** FNV-32a, as upstream uses for the same label. */
function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Over everything we set except replicas, which belong to the autoscaler once the Deployment exists. */
export function deploymentHash(deployment: V1Deployment): string {
  const { replicas: _replicas, ...spec } = deployment.spec ?? ({} as NonNullable<V1Deployment['spec']>);
  return fnv32a(
    JSON.stringify([spec, deployment.metadata?.labels ?? {}, deployment.metadata?.annotations ?? {}]),
  ).toString(36);
}

/** The desired Deployment, labelled with its own hash. */
export function withHash(deployment: V1Deployment): V1Deployment {
  return {
    ...deployment,
    metadata: {
      ...deployment.metadata,
      labels: { ...deployment.metadata?.labels, [DEPLOYMENT_HASH_LABEL]: deploymentHash(deployment) },
    },
  };
}
