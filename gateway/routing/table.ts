// The routing table: every KIngress the gateway serves, compiled once into host maps whose entries
// hold pre-sorted paths, ready-to-set headers, split schedules and the finished decision objects,
// so that routing a request is a map lookup, a short scan and two array reads.
//
// A table is never changed after it is built; the sync layer builds a new one and swaps the
// reference. Building reads nothing but its arguments. Two things carry over from the `previous`
// table: split schedule cursors (so a rebuild caused by an unrelated change does not restart a
// path's 100-request window) and upstream in-flight counters (so the load the endpoint picker sees
// survives endpoint churn). Ingress objects must not be changed once passed in (informer caches
// never change theirs in place): their probe hashes are cached by object identity.
//
// A path with `rewriteHost` (a DomainMapping's) is routed as if its request had been sent to that
// host on the internal listener, as Knative's ingresses do: its own splits only carry headers, and
// it gets, once every Ingress is in, a copy of the rewritten host's routes whose forwards send the
// rewritten Host upstream. The copies share the originals' split schedules and upstreams, so the
// percent split and the in-flight counts hold across both ways in.
//
// Scope: exact hosts (no wildcards). TLS and the httpOption redirect are gateway/tls.ts's;
// filtering by ingress class and skipping Ingresses being deleted is the sync layer's job.
import type { Ingress, IngressPath, IngressSplit } from '../../lib/apis/networking.ts';
import { HopHeaders } from '../../lib/hop.ts';
import {
  backendUnknown,
  noReadyEndpoints,
  noWeightedSplit,
  unservedRewriteHost,
  type ForwardDecision,
  type HeaderPair,
  type IngressRef,
  type ProbeDecision,
  type RejectDecision,
  type ServiceRef,
  type UpstreamProtocol,
} from './decision.ts';
import { normalizeHost } from './match.ts';
import { ingressHash } from './probe.ts';
import { SplitSchedule, xorshiftRandomInt, type RandomInt, type Upstream } from './split.ts';

export type { Ingress };
export type Visibility = 'ExternalIP' | 'ClusterLocal';

export interface BackendAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * What the gateway knows about one split target (a Service port), fed by the sync layer from the
 * Service's EndpointSlices and the revision's ServerlessService mode: in `serve` mode the ready
 * pod addresses, in `proxy` mode the activator addresses. `protocol` follows the Service port's
 * name (`http2`/`h2c` → h2c), as Kourier does.
 */
export type BackendState =
  | { readonly mode: 'serve'; readonly protocol: UpstreamProtocol; readonly endpoints: readonly BackendAddress[] }
  | { readonly mode: 'proxy'; readonly protocol: UpstreamProtocol; readonly activators: readonly BackendAddress[] };

/** Keyed by `backendKey(namespace, name, port)`; the port as the KIngress split spells it. */
export type BackendStates = ReadonlyMap<string, BackendState>;

export const backendKey = (namespace: string, name: string, port: number | string): string =>
  `${namespace}/${name}:${port}`;

export interface HeaderCondition {
  /** Lower-case, as node:http delivers request header names. */
  readonly name: string;
  readonly exact: string;
}

export interface ReadyTarget {
  readonly kind: 'ready';
  readonly service: ServiceRef;
  readonly upstreams: readonly Upstream[];
  /** `forwards[i]` is the decision for `upstreams[i]`. */
  readonly forwards: readonly ForwardDecision[];
}

export type SplitTarget = ReadyTarget | RejectDecision;

export interface WeightedSplits {
  readonly kind: 'weighted';
  readonly schedule: SplitSchedule;
  /** Every split of the KIngress path, in spec order; the schedule's indices point here. */
  readonly targets: readonly SplitTarget[];
}

/** A path that routes as its rewritten host: the request is matched again against `routes`. */
export interface HostRewrite {
  readonly kind: 'rewrite';
  /** Normalized, as looked up in the internal host map. */
  readonly host: string;
  /** What this path adds to the rewritten host's headers. */
  readonly setHeaders: readonly HeaderPair[];
  /** The rewritten host's routes, their forwards adding this path's headers and sending `host` upstream. */
  readonly routes: readonly PathRoute[];
}

export interface PathRoute {
  readonly kind: 'path';
  /** Plain string prefix, as Envoy's prefix match: `/api` also matches `/apis`. '' matches every path. */
  readonly prefix: string;
  readonly headers: readonly HeaderCondition[];
  readonly splits: WeightedSplits | HostRewrite | RejectDecision;
  /** The owning Ingress's answer to readiness probes that reach this path. */
  readonly probe: ProbeDecision;
}

export interface VirtualHost {
  readonly host: string;
  readonly visibility: Visibility;
  readonly ingress: IngressRef;
  /** Longest prefix first; for equal prefixes more header conditions first; then spec order. */
  readonly routes: readonly PathRoute[];
}

/** A host claimed by two Ingresses on the same visibility; only `winner` serves it (see `precedes`). */
export interface HostConflict {
  readonly host: string;
  readonly visibility: Visibility;
  readonly winner: IngressRef;
  readonly loser: IngressRef;
}

export interface RoutingTable {
  /** Hosts of ExternalIP rules. */
  readonly external: ReadonlyMap<string, VirtualHost>;
  /** Hosts of ClusterLocal rules plus every ExternalIP host (in-cluster clients may use public names); ClusterLocal wins a host present in both. */
  readonly internal: ReadonlyMap<string, VirtualHost>;
  readonly conflicts: readonly HostConflict[];
  readonly randomInt: RandomInt;
  readonly schedules: ReadonlyMap<string, SplitSchedule>;
  readonly upstreams: ReadonlyMap<string, Upstream>;
}

export interface TableOptions {
  /** Suffix of cluster-local hosts, for expanding `name.ns.svc.<domain>` to its short forms. Default `cluster.local`. */
  readonly clusterDomain?: string;
  /** Randomness for the endpoint picker. Default: xorshift seeded from Math.random. */
  readonly randomInt?: RandomInt;
  /** The table being replaced, whose schedule cursors and in-flight counters carry over. */
  readonly previous?: RoutingTable;
}

export function buildRoutingTable(
  ingresses: readonly Ingress[],
  backends: BackendStates,
  options: TableOptions = {},
): RoutingTable {
  const builder = new TableBuilder(backends, options);
  for (const ingress of [...ingresses].sort(precedes)) builder.add(ingress);
  return builder.finish();
}

/** client-node types the timestamp as a Date; from the API (and the routes file) it is an RFC 3339 string. */
const createdAt = (ingress: Ingress): string => String(ingress.metadata?.creationTimestamp ?? '');

/**
 * Conflict rule: the Ingress created first keeps a contested host, so a newcomer cannot take over a
 * host that is already serving; equal (or missing) creation times fall back to namespace, then
 * name, in code-point order. Missing timestamps sort first.
 */
function precedes(a: Ingress, b: Ingress): number {
  return (
    compare(createdAt(a), createdAt(b)) ||
    compare(a.metadata?.namespace ?? '', b.metadata?.namespace ?? '') ||
    compare(a.metadata?.name ?? '', b.metadata?.name ?? '')
  );
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

class TableBuilder {
  readonly #backends: BackendStates;
  readonly #clusterDomain: string;
  readonly #randomInt: RandomInt;
  readonly #previous: RoutingTable | undefined;
  readonly #hosts: Record<Visibility, Map<string, VirtualHost>> = { ExternalIP: new Map(), ClusterLocal: new Map() };
  readonly #conflicts: HostConflict[] = [];
  readonly #schedules = new Map<string, SplitSchedule>();
  readonly #upstreams = new Map<string, Upstream>();

  constructor(backends: BackendStates, options: TableOptions) {
    this.#backends = backends;
    this.#clusterDomain = normalizeHost(options.clusterDomain ?? 'cluster.local');
    this.#randomInt = options.randomInt ?? xorshiftRandomInt(Math.random() * 2 ** 31);
    this.#previous = options.previous;
  }

  add(ingress: Ingress): void {
    const ref: IngressRef = Object.freeze({
      namespace: ingress.metadata?.namespace ?? '',
      name: ingress.metadata?.name ?? '',
    });
    const probe: ProbeDecision = Object.freeze({
      kind: 'probe',
      status: 200,
      ingress: ref,
      hash: ingressHash(ingress),
    });
    // Rules of one Ingress that name the same host share it: their paths are merged in rule order.
    const claimed: Record<Visibility, Map<string, PathRoute[]>> = { ExternalIP: new Map(), ClusterLocal: new Map() };

    (ingress.spec?.rules ?? []).forEach((rule, ruleIndex) => {
      const visibility: Visibility = rule.visibility === 'ClusterLocal' ? 'ClusterLocal' : 'ExternalIP';
      const routes = (rule.http?.paths ?? []).map((path, pathIndex) =>
        this.#pathRoute(ref, probe, `${ruleIndex}.${pathIndex}`, path),
      );
      for (const host of this.#hostsOf(rule.hosts ?? [], visibility)) {
        const existing = claimed[visibility].get(host);
        if (existing) existing.push(...routes);
        else claimed[visibility].set(host, [...routes]);
      }
    });

    for (const visibility of ['ExternalIP', 'ClusterLocal'] as const) {
      for (const [host, routes] of claimed[visibility]) {
        const owner = this.#hosts[visibility].get(host);
        if (owner) {
          this.#conflicts.push({ host, visibility, winner: owner.ingress, loser: ref });
          continue;
        }
        this.#hosts[visibility].set(host, { host, visibility, ingress: ref, routes: routes.sort(moreSpecificFirst) });
      }
    }
  }

  finish(): RoutingTable {
    const merge = (clusterLocal: ReadonlyMap<string, VirtualHost>, external: ReadonlyMap<string, VirtualHost>) => {
      const all = new Map(clusterLocal);
      for (const [host, vhost] of external) if (!all.has(host)) all.set(host, vhost);
      return all;
    };
    // Rewrites look up hosts as the internal listener would; a rewritten host that itself
    // rewrites is not followed (its copy rejects), so no chain of rewrites can loop.
    const before = merge(this.#hosts.ClusterLocal, this.#hosts.ExternalIP);
    const external = this.#withRewrites(this.#hosts.ExternalIP, before);
    const internal = merge(this.#withRewrites(this.#hosts.ClusterLocal, before), external);
    return {
      external,
      internal,
      conflicts: this.#conflicts,
      randomInt: this.#randomInt,
      schedules: this.#schedules,
      upstreams: this.#upstreams,
    };
  }

  #withRewrites(
    hosts: ReadonlyMap<string, VirtualHost>,
    lookup: ReadonlyMap<string, VirtualHost>,
  ): Map<string, VirtualHost> {
    const out = new Map<string, VirtualHost>();
    for (const [host, vhost] of hosts) {
      const rewrites = vhost.routes.some((route) => route.splits.kind === 'rewrite');
      out.set(
        host,
        rewrites ? { ...vhost, routes: vhost.routes.map((route) => this.#resolveRewrite(route, lookup)) } : vhost,
      );
    }
    return out;
  }

  #resolveRewrite(route: PathRoute, lookup: ReadonlyMap<string, VirtualHost>): PathRoute {
    const rewrite = route.splits;
    if (rewrite.kind !== 'rewrite') return route;
    const target = lookup.get(rewrite.host);
    if (!target) return { ...route, splits: unservedRewriteHost(rewrite.host) };
    const routes = target.routes.map((targetRoute): PathRoute => {
      const splits = targetRoute.splits;
      if (splits.kind === 'reject') return targetRoute;
      if (splits.kind === 'rewrite') return { ...targetRoute, splits: unservedRewriteHost(rewrite.host) };
      const targets = splits.targets.map((t): SplitTarget => {
        if (t.kind === 'reject') return t;
        // Every forward of a split shares its header list; the copies share theirs too.
        const merged = mergeHeaders(
          Object.fromEntries(t.forwards[0]?.setHeaders ?? []),
          Object.fromEntries(rewrite.setHeaders),
        );
        const forwards = t.forwards.map(
          (f): ForwardDecision => Object.freeze({ ...f, setHeaders: merged, rewriteHost: rewrite.host }),
        );
        return { ...t, forwards };
      });
      return { ...targetRoute, splits: { ...splits, targets } };
    });
    return { ...route, splits: { ...rewrite, routes } };
  }

  /** Upstream's ExpandedHosts: `name.ns.svc.<domain>` is also reachable as `name.ns.svc` and `name.ns`. */
  #hostsOf(hosts: readonly string[], visibility: Visibility): Set<string> {
    const out = new Set<string>();
    for (const raw of hosts) {
      const host = normalizeHost(raw);
      if (!host) continue;
      out.add(host);
      if (visibility !== 'ClusterLocal') continue;
      for (const suffix of [`.svc.${this.#clusterDomain}`, `.${this.#clusterDomain}`]) {
        const short = host.endsWith(suffix) ? host.slice(0, -suffix.length) : '';
        if (short.includes('.')) out.add(short);
      }
    }
    return out;
  }

  #pathRoute(ingress: IngressRef, probe: ProbeDecision, position: string, path: IngressPath): PathRoute {
    const headers = Object.entries(path.headers ?? {}).map(([name, match]) => ({
      name: name.toLowerCase(),
      exact: match.exact ?? '',
    }));
    const splits = path.splits ?? [];
    if (path.rewriteHost) {
      // The proxy sets K-Original-Host itself on every rewritten request, from the client's Host.
      const setHeaders = Object.freeze(
        mergeHeaders(path.appendHeaders, ...splits.map((s) => s.appendHeaders)).filter(
          ([name]) => name !== HopHeaders.originalHost,
        ),
      );
      // Its routes are filled in by finish(), once every Ingress is in.
      return {
        kind: 'path',
        prefix: path.path ?? '',
        headers,
        splits: { kind: 'rewrite', host: normalizeHost(path.rewriteHost), setHeaders, routes: [] },
        probe,
      };
    }
    // Knative's Ingress defaulting: a lone split without a percent takes all the traffic.
    const weights = splits.length === 1 && splits[0]!.percent === undefined ? [100] : splits.map((s) => s.percent ?? 0);
    const scheduleKey = `${ingress.namespace}/${ingress.name}#${position}|${splits.map((s, i) => `${s.serviceNamespace}/${s.serviceName}:${weights[i]}`).join(',')}`;
    const schedule = this.#previous?.schedules.get(scheduleKey) ?? SplitSchedule.of(weights);
    if (!schedule) return { kind: 'path', prefix: path.path ?? '', headers, splits: noWeightedSplit(ingress), probe };
    this.#schedules.set(scheduleKey, schedule);
    const targets = splits.map((split) =>
      this.#target(ingress, split, mergeHeaders(path.appendHeaders, split.appendHeaders)),
    );
    return { kind: 'path', prefix: path.path ?? '', headers, splits: { kind: 'weighted', schedule, targets }, probe };
  }

  #target(ingress: IngressRef, split: IngressSplit, setHeaders: readonly HeaderPair[]): SplitTarget {
    const service = serviceOf(split);
    const state = this.#backends.get(backendKey(service.namespace, service.name, service.port));
    if (!state) return backendUnknown(service);
    const addresses = state.mode === 'serve' ? state.endpoints : state.activators;
    if (addresses.length === 0) return noReadyEndpoints(service);
    const upstreams = addresses.map((address) => this.#upstream(address));
    const forwards = upstreams.map(
      (upstream): ForwardDecision =>
        Object.freeze({
          kind: 'forward',
          ingress,
          service,
          mode: state.mode,
          protocol: state.protocol,
          upstream,
          setHeaders,
          rewriteHost: undefined,
        }),
    );
    return { kind: 'ready', service, upstreams, forwards };
  }

  #upstream({ host, port }: BackendAddress): Upstream {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    let upstream = this.#upstreams.get(address);
    if (!upstream) {
      upstream = this.#previous?.upstreams.get(address) ?? {
        address,
        host,
        port,
        inFlight: 0,
        ejected: false,
        ejections: 0,
      };
      this.#upstreams.set(address, upstream);
    }
    return upstream;
  }
}

const serviceOf = (split: IngressSplit): ServiceRef =>
  Object.freeze({ namespace: split.serviceNamespace, name: split.serviceName, port: split.servicePort });

/** Path-level headers first, split-level ones override them, as Envoy's weighted-cluster headers do. */
function mergeHeaders(...layers: ({ [name: string]: string } | undefined)[]): readonly HeaderPair[] {
  const merged = new Map<string, string>();
  for (const layer of layers)
    for (const [name, value] of Object.entries(layer ?? {})) merged.set(name.toLowerCase(), value);
  return Object.freeze([...merged].map(([name, value]) => Object.freeze([name, value] as const)));
}

const moreSpecificFirst = (a: PathRoute, b: PathRoute): number =>
  b.prefix.length - a.prefix.length || b.headers.length - a.headers.length;
