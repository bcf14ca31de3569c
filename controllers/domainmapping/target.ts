// Which host a DomainMapping's reference resolves to (upstream Reconciler.resolveRef and
// knative.dev/pkg resolver): the referent's status.address.url, which must be a plain
// `http://{name}.{namespace}.svc.<cluster domain>` in the DomainMapping's own namespace, since the
// Ingress rewrites the Host to it and the gateway routes it as a cluster-local request.
import type { KReference } from '../../lib/apis/domainMapping.ts';
import type { DomainMappingTarget } from './resources/ingress.ts';

/** The kinds a reference may name: those whose address we can read from our informers. */
export type AddressableKind = 'Service' | 'Route';

export interface Addressables {
  /** The referent's status.address.url, '' when it has none yet; undefined when it does not exist. */
  addressOf(kind: AddressableKind, namespace: string, name: string): string | undefined;
}

export type Resolution = { ok: true; target: DomainMappingTarget } | { ok: false; message: string };

const ADDRESSABLE: Record<string, AddressableKind | undefined> = { Service: 'Service', Route: 'Route' };
const PLURAL: Record<AddressableKind, string> = { Service: 'services', Route: 'routes' };

export function resolveReference(
  ref: KReference,
  namespace: string,
  addressables: Addressables,
  clusterDomain: string,
): Resolution {
  const kind = ref.apiVersion === 'serving.knative.dev/v1' ? ADDRESSABLE[ref.kind] : undefined;
  const refNamespace = ref.namespace || namespace;
  if (!kind)
    return {
      ok: false,
      message: `${ref.kind}.${ref.apiVersion} is not a kind a DomainMapping can refer to here; use a serving.knative.dev/v1 Service or Route`,
    };
  const address = addressables.addressOf(kind, refNamespace, ref.name);
  if (address === undefined)
    return {
      ok: false,
      message: `failed to get object ${refNamespace}/${ref.name}: ${PLURAL[kind]}.serving.knative.dev "${ref.name}" not found`,
    };
  if (address === '') return { ok: false, message: `URL missing in address of ${kind} ${refNamespace}/${ref.name}` };
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return { ok: false, message: `resolved URI "${address}" is not a URL` };
  }
  if (url.pathname.replace(/\/$/, '') !== '')
    return { ok: false, message: `resolved URI "${address}" contains a path` };
  const suffix = `.svc.${clusterDomain}`;
  const parts = url.hostname.endsWith(suffix) ? url.hostname.slice(0, -suffix.length).split('.') : [];
  if (parts.length !== 2)
    return { ok: false, message: `resolved URI "${address}" must be of the form {name}.{namespace}${suffix}` };
  if (parts[1] !== namespace)
    return { ok: false, message: `resolved URI "${address}" must be in same namespace as DomainMapping` };
  return { ok: true, target: { host: url.hostname, service: parts[0]! } };
}
