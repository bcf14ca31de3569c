// Envoy's cluster warming, for KIngress updates: an Ingress whose new version splits to a backend
// the gateway has no ready address for yet keeps being served as its last version that was fully
// servable, until the new one is. Without it, every request between the update and the new
// backend's first EndpointSlice gets 503 (the KIngress conformance `update` test probes through
// exactly that gap). A new Ingress, or one whose old backends are gone too, is served as it is.
import { backendKey, type BackendStates, type Ingress } from './routing/index.ts';

/** The first split backend of the Ingress a request could not reach yet, and why. */
export function unreadyBackend(ingress: Ingress, backends: BackendStates): string | undefined {
  for (const rule of ingress.spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? []) {
      // A rewriting path's splits only carry headers; the rewritten host is served on its own.
      if (path.rewriteHost) continue;
      for (const split of path.splits ?? []) {
        const state = backends.get(backendKey(split.serviceNamespace, split.serviceName, split.servicePort));
        const backend = `backend ${split.serviceNamespace}/${split.serviceName}:${split.servicePort}`;
        if (!state) return `${backend} has no Service yet`;
        if ((state.mode === 'serve' ? state.endpoints : state.activators).length === 0)
          return `${backend} has no ready endpoints yet`;
      }
    }
  }
  return undefined;
}

const keyOf = (ingress: Ingress) => `${ingress.metadata?.namespace}/${ingress.metadata?.name}`;

export class IngressWarming {
  /** The last fully servable version of each Ingress, by namespace/name. */
  #served = new Map<string, Ingress>();

  /** The versions kept from the last call, whose backends' states the next call needs too. */
  get served(): Ingress[] {
    return [...this.#served.values()];
  }

  /** The Ingresses to build the routing table from: each one, or its warm previous version. */
  effective(ingresses: readonly Ingress[], backends: BackendStates): Ingress[] {
    const served = new Map<string, Ingress>();
    const effective = ingresses.map((ingress) => {
      const key = keyOf(ingress);
      if (unreadyBackend(ingress, backends) === undefined) {
        served.set(key, ingress);
        return ingress;
      }
      const previous = this.#served.get(key);
      // Same object (a recreated Ingress starts cold), and still servable itself.
      if (
        previous &&
        previous.metadata?.uid === ingress.metadata?.uid &&
        unreadyBackend(previous, backends) === undefined
      ) {
        served.set(key, previous);
        return previous;
      }
      return ingress;
    });
    this.#served = served;
    return effective;
  }
}
