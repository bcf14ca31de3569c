// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: candidates
// race to write themselves into the Lease with resourceVersion preconditions; the holder renews
// every retryPeriod and steps down if it cannot renew within renewDeadline. Expiry is judged by
// when *we* last saw the record change, not by renewTime, so clock skew between replicas is harmless.
// Unlike client-go, a replica that loses the lease keeps campaigning instead of exiting.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { realClock, sleep, type Clock } from '../clock.ts';
import {
  CONFIG_LEADER_ELECTION,
  parseLeaderElectionConfig,
  type LeaderElectionConfig,
} from '../config/leaderElection.ts';
import { createLogger, type Logger } from '../log.ts';
import { isConflict, isNotFound } from './errors.ts';
import type { KubeRest } from './rest.ts';

export interface LeaderCallbacks {
  onStartedLeading?(): void | Promise<void>;
  /** On a graceful stop the lease is released only after this settles, so leaders never overlap. */
  onStoppedLeading?(): void | Promise<void>;
}

export interface LeaderElectionOptions extends LeaderCallbacks {
  client: KubeRest;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log?: Logger;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

type Attempt = 'held' | 'taken' | 'failed';

/** MicroTime must carry exactly six fractional digits or the API server rejects it. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  readonly #client: KubeRest;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #listeners: LeaderCallbacks[] = [];
  #leading = false;
  #lastRenew = 0;
  #observedSpec = '';
  #observedAt = 0;
  #observedHolder: string | undefined;
  #observedDurationMs = 0;
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#client = options.client;
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.#identity = options.identity;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#clock = options.clock ?? realClock;
    this.#log =
      options.log ??
      createLogger('leader-election', { lease: `${options.namespace}/${options.name}`, identity: options.identity });
    if (
      !(
        this.#leaseDurationMs > this.#renewDeadlineMs &&
        this.#renewDeadlineMs > this.#retryPeriodMs &&
        this.#retryPeriodMs > 0
      )
    ) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod > 0');
    }
    this.#listeners.push({ onStartedLeading: options.onStartedLeading, onStoppedLeading: options.onStoppedLeading });
  }

  get identity(): string {
    return this.#identity;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Who leads as far as this replica knows: itself while leading, else the holder of the Lease at
   * its last look (every retryPeriod), unless that record has since expired unrenewed.
   */
  leader(): string | undefined {
    if (this.#leading) return this.#identity;
    const holder = this.#observedHolder;
    if (!holder || holder === this.#identity) return undefined;
    return this.#observedAt + this.#observedDurationMs > this.#clock.now() ? holder : undefined;
  }

  /** Adds callbacks besides the ones given at construction; returns a function removing them. */
  subscribe(callbacks: LeaderCallbacks): () => void {
    this.#listeners.push(callbacks);
    return () => {
      const index = this.#listeners.indexOf(callbacks);
      if (index >= 0) this.#listeners.splice(index, 1);
    };
  }

  start(): void {
    if (this.#running) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#running = this.#run(stop.signal);
  }

  /** Stops campaigning; a leader first lets onStoppedLeading settle, then frees the Lease for the next replica. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#running;
    this.#running = undefined;
    if (!this.#leading) return;
    this.#leading = false;
    await this.#notify('onStoppedLeading');
    await this.#release();
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const outcome = await this.#attempt(signal);
      if (signal.aborted) break;
      const now = this.#clock.now();
      if (outcome === 'held') {
        this.#lastRenew = now;
        if (!this.#leading) {
          this.#leading = true;
          this.#log.info('became leader');
          void this.#notify('onStartedLeading');
        }
      } else if (this.#leading && (outcome === 'taken' || now - this.#lastRenew >= this.#renewDeadlineMs)) {
        this.#leading = false;
        this.#log.warn('lost leadership', { reason: outcome === 'taken' ? 'another holder' : 'renew deadline passed' });
        void this.#notify('onStoppedLeading');
      }
      await sleep(this.#clock, this.#retryPeriodMs, signal);
    }
  }

  /** One try to acquire or renew, bounded so a hung request cannot outlive the renew deadline. */
  async #attempt(stopSignal: AbortSignal): Promise<Attempt> {
    const budget = this.#leading ? this.#lastRenew + this.#renewDeadlineMs - this.#clock.now() : this.#renewDeadlineMs;
    const timeout = new AbortController();
    const timer = this.#clock.setTimeout(() => timeout.abort(), Math.max(budget, 0));
    try {
      return await this.#tryAcquireOrRenew(AbortSignal.any([stopSignal, timeout.signal]));
    } catch (error) {
      if (!stopSignal.aborted && !isConflict(error)) this.#log.warn('lease update failed', { error });
      return 'failed';
    } finally {
      timer.cancel();
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const now = this.#clock.now();
    const lease = await this.#get(signal);
    if (!lease) {
      const created: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#name, namespace: this.#namespace },
        spec: this.#claim({}, now),
      };
      await this.#client.request('POST', this.#collectionPath(), { body: created, signal });
      this.#observe(created.spec!, now);
      return 'held';
    }
    const spec = lease.spec ?? {};
    if (JSON.stringify(spec) !== this.#observedSpec) this.#observe(spec, now);
    const holder = spec.holderIdentity;
    const durationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
    if (holder && holder !== this.#identity && this.#observedAt + durationMs > now) return 'taken';
    const claimed: Lease = { ...lease, spec: this.#claim(spec, now) };
    await this.#client.request('PUT', this.#path(), { body: claimed, signal });
    this.#observe(claimed.spec!, now);
    return 'held';
  }

  #claim(spec: LeaseSpec, now: number): LeaseSpec {
    const renewing = spec.holderIdentity === this.#identity;
    return {
      ...spec,
      holderIdentity: this.#identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: renewing && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? -1) + 1,
    };
  }

  #observe(spec: LeaseSpec, now: number): void {
    this.#observedSpec = JSON.stringify(spec);
    this.#observedAt = now;
    this.#observedHolder = spec.holderIdentity;
    this.#observedDurationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
  }

  async #release(): Promise<void> {
    try {
      const lease = await this.#get();
      if (lease?.spec?.holderIdentity !== this.#identity) return;
      const spec: LeaseSpec = { ...lease.spec, leaseDurationSeconds: 1, renewTime: microTime(this.#clock.now()) };
      delete spec.holderIdentity;
      await this.#client.request('PUT', this.#path(), { body: { ...lease, spec } });
      this.#log.info('released lease');
    } catch (error) {
      // The lease then simply expires; the next leader just waits a little longer.
      this.#log.warn('could not release lease', { error });
    }
  }

  async #get(signal?: AbortSignal): Promise<Lease | undefined> {
    try {
      return await this.#client.request<Lease>('GET', this.#path(), { signal });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #notify(hook: keyof LeaderCallbacks): Promise<void> {
    await Promise.all(
      this.#listeners.map(async (listener) => {
        try {
          await listener[hook]?.();
        } catch (error) {
          this.#log.error('leader callback threw', { hook, error });
        }
      }),
    );
  }

  #collectionPath(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#namespace}/leases`;
  }

  #path(): string {
    return `${this.#collectionPath()}/${this.#name}`;
  }
}

/**
 * A replica's identity in Knative's form `<pod name>_<pod IP>` (knative.dev/pkg/leaderelection),
 * so the others can reach the leader at the address its Lease names. Outside a pod (no IP), a
 * random suffix keeps two processes on one host apart; such an identity names no address.
 */
export function leaderIdentity(podName: string, podIp: string | undefined): string {
  return `${podName}_${podIp || `local-${randomBytes(4).toString('hex')}`}`;
}

/** The IP in a `<pod name>_<pod IP>` identity, or undefined when it names none. */
export function leaderIp(identity: string): string | undefined {
  const ip = identity.slice(identity.lastIndexOf('_') + 1);
  return identity.includes('_') && isIP(ip) !== 0 ? ip : undefined;
}

/**
 * config-leader-election from the system namespace, read once at start as upstream does; no
 * ConfigMap means the defaults. Listed by name, as the components may list but not get ConfigMaps.
 */
export async function loadLeaderElectionConfig(
  client: KubeRest,
  namespace: string,
  log: Logger,
): Promise<LeaderElectionConfig> {
  const { items } = await client.request<{ items: { data?: Record<string, string> }[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/configmaps?fieldSelector=${encodeURIComponent(`metadata.name=${CONFIG_LEADER_ELECTION}`)}`,
  );
  return parseLeaderElectionConfig(items[0]?.data, (issue) =>
    log.warn('invalid configuration key, using its default', {
      configMap: CONFIG_LEADER_ELECTION,
      key: issue.key,
      error: issue.message,
    }),
  );
}
