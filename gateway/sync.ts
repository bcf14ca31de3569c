// From a source of Ingresses and backend states to the one routing table requests read. Changes
// are debounced into a rebuild; the new table replaces the old with a single reference swap, so a
// request routes either entirely against the old table or entirely against the new one, and
// connections opened on the old one carry on (their upstream pools close only once idle). The
// TLS table (certificates by host, redirects) is rebuilt and swapped with it.
import { realClock, type Clock, type Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import {
  buildRoutingTable,
  type BackendStates,
  type ForwardDecision,
  type Ingress,
  type RoutingTable,
} from './routing/index.ts';
import { buildTlsTable, EMPTY_TLS_TABLE, type TlsSecrets, type TlsTable } from './tls.ts';
import { IngressWarming } from './warming.ts';

export interface RoutingSnapshot {
  readonly ingresses: readonly Ingress[];
  readonly backends: BackendStates;
  /** The TLS Secrets the Ingresses' `spec.tls` name, as far as the source has them. */
  readonly secrets: TlsSecrets;
}

/** Where Ingresses and backend states come from: Kubernetes informers or a file. */
export interface RoutingSource {
  /** Starts watching; resolves once the first complete snapshot can be read. `onChange` may be called often. */
  start(onChange: () => void): Promise<void>;
  /**
   * The current Ingresses with the states of their backends and of `warmVersions`' backends: the
   * versions warming may keep serving, whose backends no current Ingress may name any more.
   */
  snapshot(warmVersions: readonly Ingress[]): RoutingSnapshot;
  stop(): Promise<void>;
}

/** A table plus, for each forward decision, every decision of the same split: the endpoints a refused connection may retry on. */
export interface LiveRouting {
  readonly table: RoutingTable;
  readonly alternatives: ReadonlyMap<ForwardDecision, readonly ForwardDecision[]>;
  readonly snapshot: RoutingSnapshot;
  readonly tls: TlsTable;
}

export interface RoutingSyncOptions {
  source: RoutingSource;
  debounceMs: number;
  clusterDomain: string;
  /** `secretKey` of the default certificate for public hosts without a `spec.tls` entry. */
  defaultCertificate?: string;
  /** Called after each swap, with the table now live. */
  onSwap?: (live: LiveRouting) => void;
  clock?: Clock;
  log: Logger;
}

const EMPTY: RoutingSnapshot = { ingresses: [], backends: new Map(), secrets: new Map() };

export class RoutingSync {
  readonly #options: RoutingSyncOptions;
  readonly #clock: Clock;
  #live: LiveRouting;
  readonly #warming = new IngressWarming();
  #pending: Timer | undefined;
  #started = false;
  #stopped = false;

  constructor(options: RoutingSyncOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#live = live(
      buildRoutingTable([], EMPTY.backends, { clusterDomain: options.clusterDomain }),
      EMPTY,
      EMPTY_TLS_TABLE,
    );
  }

  /** The table to route the next request against. */
  get live(): LiveRouting {
    return this.#live;
  }

  /** True once the first table built from the source is live. */
  get ready(): boolean {
    return this.#started;
  }

  async start(): Promise<void> {
    await this.#options.source.start(this.#schedule);
    this.#rebuild();
    this.#started = true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pending?.cancel();
    await this.#options.source.stop();
  }

  #schedule = (): void => {
    if (!this.#started || this.#pending !== undefined || this.#stopped) return;
    this.#pending = this.#clock.setTimeout(() => {
      this.#pending = undefined;
      if (!this.#stopped) this.#rebuild();
    }, this.#options.debounceMs);
  };

  #rebuild(): void {
    const snapshot = this.#options.source.snapshot(this.#warming.served);
    const table = buildRoutingTable(this.#warming.effective(snapshot.ingresses, snapshot.backends), snapshot.backends, {
      clusterDomain: this.#options.clusterDomain,
      previous: this.#live.table,
    });
    const previousTls = this.#live.tls;
    const tls = buildTlsTable(snapshot.ingresses, snapshot.secrets, table, {
      previous: previousTls,
      now: this.#clock.now(),
      ...(this.#options.defaultCertificate ? { defaultCertificate: this.#options.defaultCertificate } : {}),
    });
    this.#live = live(table, snapshot, tls);
    for (const [key, state] of tls.secrets) {
      // Once per change of a Secret's state, not on every rebuild.
      if (state.kind === 'failed' && previousTls.secrets.get(key) !== state)
        this.#options.log.warn('TLS secret not usable; its hosts are served without TLS', {
          secret: key,
          reason: state.reason,
        });
    }
    for (const [key, problem] of tls.problems) {
      if (previousTls.problems.get(key) !== problem)
        this.#options.log.warn('TLS certificate not usable for a host; it is served without TLS', { reason: problem });
    }
    for (const conflict of table.conflicts) {
      this.#options.log.warn('host claimed by two ingresses; the older one keeps it', {
        host: conflict.host,
        visibility: conflict.visibility,
        winner: `${conflict.winner.namespace}/${conflict.winner.name}`,
        loser: `${conflict.loser.namespace}/${conflict.loser.name}`,
      });
    }
    this.#options.onSwap?.(this.#live);
  }
}

function live(table: RoutingTable, snapshot: RoutingSnapshot, tls: TlsTable): LiveRouting {
  const alternatives = new Map<ForwardDecision, readonly ForwardDecision[]>();
  for (const hosts of [table.external, table.internal]) {
    for (const vhost of hosts.values()) {
      for (const path of vhost.routes.flatMap((route) =>
        route.splits.kind === 'rewrite' ? route.splits.routes : [route],
      )) {
        if (path.splits.kind !== 'weighted') continue;
        for (const target of path.splits.targets) {
          if (target.kind !== 'ready') continue;
          for (const forward of target.forwards) alternatives.set(forward, target.forwards);
        }
      }
    }
  }
  return { table, alternatives, snapshot, tls };
}
