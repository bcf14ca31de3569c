// Keep-alive connection pools, one per upstream address and protocol, shared by every route that
// sends there. Pools are made on first use and closed once a new routing table no longer names
// their address; closing is graceful, so requests already dispatched on the old table finish.
// HTTP/1.1 upstreams take the lean path (leanUpstream.ts) with an undici Pool behind it for the rest.
import { H2CClient, Pool } from 'undici';
import { realClock, type Clock } from '../lib/clock.ts';
import { connectorSkippingContinue } from '../lib/http/unsolicitedContinue.ts';
import type { Dispatch } from '../lib/http/proxy.ts';
import { LeanHttp1Dispatcher } from './leanUpstream.ts';
import type { RoutingTable, UpstreamProtocol } from './routing/index.ts';

export interface UpstreamPoolOptions {
  /** Kourier gives every Envoy cluster a 5s connect timeout. */
  connectTimeoutMs: number;
  /** How long an idle upstream connection is kept, unless the upstream's Keep-Alive header says less. */
  keepAliveTimeoutMs: number;
  clock?: Clock;
}

/** Closes gracefully or at once, as undici's dispatchers and the lean one do. */
interface UpstreamDispatcher extends Dispatch {
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** `host:port` as the routing table spells it, IPv6 bracketed. */
function hostAndPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(at + 1)) };
}

export class UpstreamPools {
  readonly #options: UpstreamPoolOptions;
  readonly #http1 = new Map<string, LeanHttp1Dispatcher>();
  readonly #h2c = new Map<string, H2CClient>();

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
  }

  /** `address` as the routing table spells it (`host:port`, IPv6 bracketed). */
  get(address: string, protocol: UpstreamProtocol): Dispatch {
    return protocol === 'h2c' ? this.#h2cClient(address) : this.#http1Pool(address);
  }

  /** Upgrades (websockets) always travel over HTTP/1.1, whatever the route's protocol. */
  http1(address: string): Dispatch {
    return this.#http1Pool(address);
  }

  /** Closes the pools of addresses the table no longer sends to. */
  retain(table: RoutingTable): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const pools of [this.#http1, this.#h2c] as Map<string, UpstreamDispatcher>[]) {
      for (const [address, pool] of pools) {
        if (table.upstreams.has(address)) continue;
        pools.delete(address);
        closing.push(pool.close());
      }
    }
    return Promise.all(closing).then(() => undefined);
  }

  async destroy(): Promise<void> {
    const all: UpstreamDispatcher[] = [...this.#http1.values(), ...this.#h2c.values()];
    this.#http1.clear();
    this.#h2c.clear();
    await Promise.all(all.map((pool) => pool.destroy()));
  }

  #http1Pool(address: string): LeanHttp1Dispatcher {
    let pool = this.#http1.get(address);
    if (pool === undefined) {
      const { connectTimeoutMs, keepAliveTimeoutMs, clock = realClock } = this.#options;
      pool = new LeanHttp1Dispatcher({
        ...hostAndPort(address),
        connectTimeoutMs,
        keepAliveTimeoutMs,
        clock,
        fallback: () =>
          new Pool(`http://${address}`, {
            // Request timeouts are the gateway's own (see proxy.ts), measured from the client's side.
            headersTimeout: 0,
            bodyTimeout: 0,
            keepAliveTimeout: keepAliveTimeoutMs,
            connect: connectorSkippingContinue({ timeout: connectTimeoutMs }),
          }),
      });
      this.#http1.set(address, pool);
    }
    return pool;
  }

  #h2cClient(address: string): H2CClient {
    let client = this.#h2c.get(address);
    if (client === undefined) {
      client = new H2CClient(`http://${address}`, {
        headersTimeout: 0,
        bodyTimeout: 0,
        connect: { timeout: this.#options.connectTimeoutMs },
      });
      this.#h2c.set(address, client);
    }
    return client;
  }
}
