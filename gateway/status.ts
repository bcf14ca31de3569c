// Publishing KIngress status once the gateway serves it. Knative's ingress controllers mark an
// Ingress Ready only after a prober has seen every gateway pod answer with the spec's hash (see
// routing/probe.ts). Simplified here: the replica holding the lease marks an Ingress Ready as soon
// as a routing table containing it is live in its own process, every split's backend (or
// rewritten host) is known and every Secret its spec.tls names has loaded with a certificate
// valid for its hosts.
// Other replicas apply the same informer data within the debounce interval, but nothing proves they
// have; the gateway does answer Knative's probe (K-Network-Probe) with the hash, so an external
// prober can still check every replica.
import { realClock, type Clock, type Timer } from '../lib/clock.ts';
import { IngressConditions, type Condition } from '../lib/apis/conditions.ts';
import type { IngressStatus } from '../lib/apis/networking.ts';
import type { Logger } from '../lib/log.ts';
import type { KubeRest } from '../lib/kube/rest.ts';
import { normalizeHost, type Ingress, type RoutingTable } from './routing/index.ts';
import type { LiveRouting } from './sync.ts';
import { hostKey, secretKey } from './tls.ts';
import { unreadyBackend } from './warming.ts';

export interface LoadBalancerAddresses {
  /** The gateway's external Service, as a cluster-internal DNS name. */
  public: string;
  /** The gateway's internal Service, as a cluster-internal DNS name. */
  private: string;
}

const RETRY_MS = 1000;

/** Why an Ingress in the live table cannot be Ready yet, or undefined when it is served in full. */
export function notServedReason(ingress: Ingress, live: LiveRouting): string | undefined {
  const ref = { namespace: ingress.metadata?.namespace ?? '', name: ingress.metadata?.name ?? '' };
  // Ready promises https too for the hosts of its tls entries.
  for (const tls of ingress.spec?.tls ?? []) {
    const key = secretKey(tls.secretNamespace ?? ref.namespace, tls.secretName ?? '');
    const state = live.tls.secrets.get(key);
    if (state?.kind !== 'loaded') return state?.reason ?? `TLS secret ${key} not loaded yet`;
    for (const host of tls.hosts ?? []) {
      const problem = live.tls.problems.get(hostKey(key, host));
      if (problem !== undefined) return problem;
    }
  }
  for (const rule of ingress.spec?.rules ?? []) {
    const hosts: RoutingTable['external'] =
      rule.visibility === 'ClusterLocal' ? live.table.internal : live.table.external;
    for (const host of rule.hosts ?? []) {
      const owner = hosts.get(normalizeHost(host))?.ingress;
      if (owner?.namespace !== ref.namespace || owner.name !== ref.name)
        return `host ${host} is served by another Ingress or not yet loaded`;
    }
    for (const path of rule.http?.paths ?? []) {
      // A rewriting path's splits only carry headers: it is served once the rewritten host is.
      if (path.rewriteHost && !live.table.internal.has(normalizeHost(path.rewriteHost)))
        return `rewritten host ${path.rewriteHost} is not served yet`;
    }
  }
  // Ready promises that a request sent now is answered; a backend whose endpoints the table has
  // not seen yet would answer 503 (Knative's prober waits for the same).
  return unreadyBackend(ingress, live.snapshot.backends);
}

export class IngressStatusWriter {
  readonly #client: KubeRest;
  readonly #addresses: LoadBalancerAddresses;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #isLeader: () => boolean;
  #latest: LiveRouting | undefined;
  #writing: Promise<void> = Promise.resolve();
  #retry: Timer | undefined;
  #stopped = false;

  constructor(
    client: KubeRest,
    addresses: LoadBalancerAddresses,
    isLeader: () => boolean,
    log: Logger,
    clock: Clock = realClock,
  ) {
    this.#client = client;
    this.#addresses = addresses;
    this.#isLeader = isLeader;
    this.#log = log;
    this.#clock = clock;
  }

  /** Called with every table that went live, and on becoming leader. Writes are serialised. */
  publish(live: LiveRouting | undefined = this.#latest): void {
    if (live === undefined) return;
    this.#latest = live;
    this.#writing = this.#writing.then(() => this.#publishNow(live));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#retry?.cancel();
    await this.#writing;
  }

  async #publishNow(live: LiveRouting): Promise<void> {
    if (this.#stopped || !this.#isLeader() || live !== this.#latest) return;
    let failed = false;
    for (const ingress of live.snapshot.ingresses) {
      const status = this.#desiredStatus(ingress, notServedReason(ingress, live));
      if (status === undefined) continue;
      const { namespace, name } = ingress.metadata as { namespace: string; name: string };
      try {
        await this.#client.request(
          'PATCH',
          `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${namespace}/ingresses/${name}/status`,
          {
            body: { status },
            contentType: 'application/merge-patch+json',
          },
        );
        this.#log.info('ingress status written', {
          ingress: `${namespace}/${name}`,
          ready: IngressConditions.manage(status, this.#clock).isHappy(),
        });
      } catch (error) {
        failed = true;
        this.#log.warn('ingress status write failed', { ingress: `${namespace}/${name}`, error });
      }
    }
    if (failed && !this.#stopped) {
      this.#retry?.cancel();
      this.#retry = this.#clock.setTimeout(() => this.publish(), RETRY_MS);
    }
  }

  /** The status to write, or undefined when the stored one already says the same. */
  #desiredStatus(ingress: Ingress, notServed: string | undefined): IngressStatus | undefined {
    const current = ingress.status ?? {};
    const status: IngressStatus = structuredClone(current);
    const conditions = IngressConditions.manage(status, this.#clock);
    conditions.initialize();
    conditions.markTrue('NetworkConfigured');
    if (notServed === undefined) conditions.markTrue('LoadBalancerReady');
    else conditions.markUnknown('LoadBalancerReady', 'Uninitialized', notServed);
    status.observedGeneration = ingress.metadata?.generation ?? 0;
    status.publicLoadBalancer = { ingress: [{ domainInternal: this.#addresses.public }] };
    status.privateLoadBalancer = { ingress: [{ domainInternal: this.#addresses.private }] };
    return sameStatus(current, status) ? undefined : status;
  }
}

const conditionKey = (conditions: Condition[] | undefined): string =>
  JSON.stringify((conditions ?? []).map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '']));

function sameStatus(a: IngressStatus, b: IngressStatus): boolean {
  return (
    a.observedGeneration === b.observedGeneration &&
    conditionKey(a.conditions) === conditionKey(b.conditions) &&
    JSON.stringify(a.publicLoadBalancer) === JSON.stringify(b.publicLoadBalancer) &&
    JSON.stringify(a.privateLoadBalancer) === JSON.stringify(b.privateLoadBalancer)
  );
}
