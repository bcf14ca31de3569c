// Knative's ingress readiness probing (knative.dev/networking pkg/status, pkg/ingress).
//
// Upstream, the ingress controller rewrites each KIngress (InsertProbe) so that a request carrying
// `K-Network-Hash: override` is forwarded with `K-Network-Hash: <hash of the spec>`, and the
// activator or queue-proxy echoes that header back. Here the gateway answers the probe itself from
// its routing table: the answer proves the same thing (this gateway has loaded this spec) without a
// cold start or an activator in the way. The prober that marks our KIngresses Ready must compute
// the hash with `ingressHash` below. A host lost to an older Ingress (see table.ts) answers with
// the winner's hash, so the losing Ingress never becomes Ready, which is the signal it should get.
import { createHash } from 'node:crypto';
import type { IIngress } from '@kubernetes-models/knative/networking.internal.knative.dev/v1alpha1/Ingress';

/** Request headers of a probe, lower-case as node:http delivers them. */
export const PROBE_HEADER = 'k-network-probe';
export const PROBE_VALUE = 'probe';
export const HASH_HEADER = 'k-network-hash';
export const HASH_OVERRIDE = 'override';

/**
 * SHA-256 (hex) of the spec, namespace and name, as upstream's ComputeHash; the spec is serialised
 * with sorted keys so the hash depends on content only, not on the key order a client happened to send.
 */
export function ingressHash(ingress: IIngress): string {
  let hash = hashes.get(ingress);
  if (hash === undefined) {
    hash = createHash('sha256')
      .update(canonicalJson(ingress.spec ?? {}))
      .update(ingress.metadata?.namespace ?? '')
      .update(ingress.metadata?.name ?? '')
      .digest('hex');
    hashes.set(ingress, hash);
  }
  return hash;
}

// Hashing is most of the cost of building a table, and a rebuild usually sees the same Ingress
// objects again: informer caches replace an object on update and never change it in place.
const hashes = new WeakMap<IIngress, string>();

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
