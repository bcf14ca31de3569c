// Per revision: holds requests while no pod can take them, and hands each admitted request a
// pod slot (S:pkg/activator/net/throttler.go). The revision breaker's capacity is
// ready pods × containerConcurrency (unlimited with cc 0), so holding a revision slot means a
// pod slot is free; pods are accepted when they answer a queue-proxy probe.
// A revision may also have a reserved burstable instance: while none of its standard pods is
// healthy, the reserved pods serve it, up to their own containerConcurrency each. Once a standard
// pod is healthy new requests go to standard pods only; requests already on a reserved pod finish
// there and keep their revision slot, so capacity counts them on top of the standard slots until
// they do, and standard pods never get more than their containerConcurrency.
import { H2CClient, Pool, type Dispatcher } from 'undici';
import { Breaker, type BreakerWaiter } from '../lib/breaker.ts';
import type { Clock, Timer } from '../lib/clock.ts';
import { HopHeaders, PROBE_USER_AGENTS, ProbeValues } from '../lib/hop.ts';
import type { Logger } from '../lib/log.ts';
import type { ReservedBackends } from './backends.ts';

/** Knative's PROBE_FREQUENCY and PROBE_TIMEOUT (S:cmd/activator/main.go). */
export const PROBE_INTERVAL_MS = 200;
export const PROBE_TIMEOUT_MS = 300;
const PROBE_HEADERS = { [HopHeaders.networkProbe]: ProbeValues.queue, 'user-agent': PROBE_USER_AGENTS.activator };

export type PodHealth = 'probing' | 'healthy' | 'removed';

/** Which pods take a revision's new requests: standard ones, the reserved instance, or none yet. */
export type ServingMode = 'standard' | 'reserved' | 'none';

export class PodTracker {
  readonly address: string;
  /** A pod of the revision's reserved instance rather than a standard pod. */
  readonly reserved: boolean;
  readonly dispatcher: Pool;
  /** Non-blocking per-pod slots for cc > 0; none with unlimited concurrency. */
  readonly slots: Breaker | undefined;
  health: PodHealth = 'probing';
  /** Whether the pod's endpoint was ready at the last update. */
  endpointReady = false;
  inFlight = 0;
  /** Why the last probe failed, so each new reason is logged once rather than every attempt. */
  lastProbeFailure: string | undefined;
  /** Said it is ready while a probe was on its way: a failed probe is followed by another at once. */
  probeAgainAtOnce = false;
  /** Told after each release, for reserved pods only (see RevisionThrottler). */
  onReleased: (() => void) | undefined;
  /** For requests that arrived over HTTP/2 (revisions that speak h2c); made on the first one. */
  #h2c: H2CClient | undefined;

  constructor(address: string, containerConcurrency: number, reserved = false) {
    this.address = address;
    this.reserved = reserved;
    // Timeouts are the revision's business, enforced per request by the handler.
    this.dispatcher = new Pool(`http://${address}`, { headersTimeout: 0, bodyTimeout: 0 });
    this.slots = containerConcurrency > 0 ? new Breaker(containerConcurrency, 0) : undefined;
  }

  /**
   * The pod is spoken to in the protocol the request came in, as upstream's auto transport does,
   * so an h2c revision's requests reach its container as HTTP/2 through queue-proxy.
   */
  dispatcherFor(httpVersionMajor: number): Dispatcher {
    if (httpVersionMajor < 2) return this.dispatcher;
    return (this.#h2c ??= new H2CClient(`http://${this.address}`, { headersTimeout: 0, bodyTimeout: 0 }));
  }

  /** Lets requests already sent finish, then closes the pod's connections. */
  close(): Promise<void> {
    return Promise.all([this.dispatcher.close(), this.#h2c?.close()]).then(() => undefined);
  }

  tryReserve(): boolean {
    if (this.slots !== undefined && this.slots.enter(NO_WAITER) !== 'admitted') return false;
    this.inFlight++;
    return true;
  }

  unreserve(): void {
    this.inFlight--;
    this.slots?.release();
    this.onReleased?.();
  }
}

const NO_WAITER: BreakerWaiter = {
  admitted() {
    throw new Error('a depth-0 breaker never queues');
  },
};

export interface ThrottlerEvents {
  podHealthy(revision: string, pod: string, waiting: number, reserved: boolean): void;
  /** Only changes to or from 'reserved' are told; `waiting` is counted before capacity moves. */
  servingModeChanged(revision: string, from: ServingMode, to: ServingMode, waiting: number): void;
}

export interface ThrottlerDeps {
  queueDepth: number;
  clock: Clock;
  log: Logger;
  events: ThrottlerEvents;
  /** Picks in [0, 1), for the random choice of two; injectable for tests. */
  random: () => number;
}

export class RevisionThrottler {
  readonly key: string;
  readonly containerConcurrency: number;
  readonly breaker: Breaker;
  #deps: ThrottlerDeps;
  #pods = new Map<string, PodTracker>();
  /** Healthy standard pods in address order, so round-robin and first-available are stable. */
  #ready: PodTracker[] = [];
  /** Healthy reserved pods in address order; they take requests only while #ready is empty. */
  #reservedReady: PodTracker[] = [];
  /** The reserved instance's containerConcurrency; 0 while the revision has none. */
  #reservedConcurrency = 0;
  #mode: ServingMode = 'none';
  #nextIndex = 0;
  #probeTimers = new Map<PodTracker, Timer>();
  #closed = false;

  constructor(key: string, containerConcurrency: number, deps: ThrottlerDeps) {
    this.key = key;
    this.containerConcurrency = containerConcurrency;
    this.#deps = deps;
    this.breaker = new Breaker(0, deps.queueDepth);
  }

  get readyPods(): number {
    return this.#ready.length;
  }

  get servingMode(): ServingMode {
    return this.#mode;
  }

  /**
   * Adds trackers (probed at once) for new addresses and drops those that are gone; `reserved`
   * lists the reserved instance's pods (an address listed as both counts as standard). A pod
   * whose endpoint went from ready to not ready takes no new requests until it answers a probe
   * again (upstream's reprobe of pods that became non-ready): its readiness probe started
   * failing, which queue-proxy's health check reports too.
   */
  setPods(addresses: readonly string[], reserved?: ReservedBackends, notReady: readonly string[] = []): void {
    const wanted = new Map<string, boolean>();
    for (const address of reserved?.pods ?? []) wanted.set(address, true);
    for (const address of addresses) wanted.set(address, false);
    for (const [address, tracker] of this.#pods) if (wanted.get(address) !== tracker.reserved) this.#remove(tracker);
    const reservedConcurrency = reserved?.containerConcurrency ?? 0;
    const concurrencyChanged = reservedConcurrency !== this.#reservedConcurrency;
    if (concurrencyChanged && reservedConcurrency > 0) {
      for (const tracker of this.#pods.values()) if (tracker.reserved) tracker.slots?.setCapacity(reservedConcurrency);
    }
    this.#reservedConcurrency = reservedConcurrency;
    const notReadySet = new Set(notReady);
    for (const tracker of this.#pods.values()) {
      const endpointReady = !notReadySet.has(tracker.address);
      if (tracker.endpointReady && !endpointReady) this.#reprobe(tracker, 'pod turned not ready; probing it again');
      tracker.endpointReady = endpointReady;
    }
    for (const [address, isReserved] of wanted) {
      if (this.#pods.has(address)) continue;
      const tracker = new PodTracker(address, isReserved ? reservedConcurrency : this.containerConcurrency, isReserved);
      tracker.endpointReady = !notReadySet.has(address);
      if (isReserved) tracker.onReleased = this.#reservedReleased;
      this.#pods.set(address, tracker);
      // Once per pod: the moment the activator learns a pod is a phase of a cold start.
      this.#deps.log.info('probing a new pod', {
        revision: this.key,
        pod: address,
        endpointReady: tracker.endpointReady,
        ...(isReserved ? { reserved: true } : {}),
      });
      this.#probe(tracker);
    }
    if (concurrencyChanged) this.#updateCapacity();
  }

  /**
   * Reserves a slot on a healthy pod; the caller holds a revision slot, so one is free. Policy
   * by cc as upstream: random choice of two (cc 0), first available (cc ≤ 3), else round-robin.
   */
  reservePod(): PodTracker | undefined {
    const ready = this.#ready;
    const count = ready.length;
    if (count === 0) {
      for (const pod of this.#reservedReady) if (pod.tryReserve()) return pod;
      return undefined;
    }
    if (this.containerConcurrency === 0) {
      const a = ready[Math.floor(this.#deps.random() * count)]!;
      const b = ready[Math.floor(this.#deps.random() * count)]!;
      const chosen = b.inFlight < a.inFlight ? b : a;
      chosen.tryReserve();
      return chosen;
    }
    if (this.containerConcurrency <= 3) {
      for (const pod of ready) if (pod.tryReserve()) return pod;
      return undefined;
    }
    for (let i = 0; i < count; i++) {
      const pod = ready[(this.#nextIndex + i) % count]!;
      if (pod.tryReserve()) {
        this.#nextIndex = (this.#nextIndex + i + 1) % count;
        return pod;
      }
    }
    return undefined;
  }

  /**
   * The pod says it is ready (queue-proxy's announce, see announced.ts): if it has yet to answer a
   * probe, it is probed now rather than at its next interval, which may be up to PROBE_INTERVAL_MS away.
   */
  probeNow(address: string): void {
    const tracker = this.#pods.get(address);
    if (tracker === undefined || tracker.health !== 'probing') return;
    const timer = this.#probeTimers.get(tracker);
    if (timer === undefined) {
      tracker.probeAgainAtOnce = true;
      return;
    }
    timer.cancel();
    this.#probe(tracker);
  }

  /** A pod refused a connection: it takes no traffic until it answers a probe again. */
  podFailed(tracker: PodTracker): void {
    this.#reprobe(tracker, 'pod refused a connection; probing it again');
  }

  #reprobe(tracker: PodTracker, why: string): void {
    if (tracker.health !== 'healthy') return;
    this.#deps.log.warn(why, { revision: this.key, pod: tracker.address });
    tracker.health = 'probing';
    if (tracker.reserved) this.#reservedReady = this.#reservedReady.filter((p) => p !== tracker);
    else this.#ready = this.#ready.filter((p) => p !== tracker);
    this.#updateCapacity();
    this.#probe(tracker);
  }

  /** Stops probing and closes idle pod connections; requests in progress finish. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pods.values()].map((tracker) => this.#remove(tracker)));
  }

  #remove(tracker: PodTracker): Promise<void> {
    tracker.health = 'removed';
    this.#pods.delete(tracker.address);
    this.#probeTimers.get(tracker)?.cancel();
    this.#probeTimers.delete(tracker);
    const ready = tracker.reserved ? this.#reservedReady : this.#ready;
    const index = ready.indexOf(tracker);
    if (index >= 0) {
      ready.splice(index, 1);
      this.#updateCapacity();
    }
    return tracker.close();
  }

  #probe(tracker: PodTracker): void {
    this.#probeTimers.delete(tracker);
    if (this.#closed || tracker.health !== 'probing') return;
    void probeQueueProxy(tracker.dispatcher)
      .then((failure) => {
        if (tracker.health !== 'probing') return;
        if (failure === undefined) {
          tracker.lastProbeFailure = undefined;
          this.#accept(tracker);
          return;
        }
        if (failure !== tracker.lastProbeFailure) {
          tracker.lastProbeFailure = failure;
          this.#deps.log.info('pod not answering its probe yet', { revision: this.key, pod: tracker.address, failure });
        }
        if (tracker.probeAgainAtOnce) {
          tracker.probeAgainAtOnce = false;
          this.#probe(tracker);
          return;
        }
        this.#probeTimers.set(
          tracker,
          this.#deps.clock.setTimeout(() => this.#probe(tracker), PROBE_INTERVAL_MS),
        );
      })
      .catch((error: Error) =>
        this.#deps.log.error('accepting a probed pod failed', { revision: this.key, pod: tracker.address, error }),
      );
  }

  #accept(tracker: PodTracker): void {
    tracker.health = 'healthy';
    const ready = tracker.reserved ? this.#reservedReady : this.#ready;
    let at = 0;
    while (at < ready.length && ready[at]!.address < tracker.address) at++;
    ready.splice(at, 0, tracker);
    this.#deps.events.podHealthy(this.key, tracker.address, this.breaker.queued, tracker.reserved);
    this.#updateCapacity();
  }

  /** A reserved pod finished a request: one that outlived reserved mode gives its extra slot back. */
  #reservedReleased = (): void => {
    if (this.#mode === 'standard' && this.containerConcurrency > 0) this.#updateCapacity();
  };

  #updateCapacity(): void {
    const standard = this.#ready.length;
    const reserved = this.#reservedReady.length;
    const mode: ServingMode = standard > 0 ? 'standard' : reserved > 0 ? 'reserved' : 'none';
    if (mode !== this.#mode) {
      const from = this.#mode;
      this.#mode = mode;
      if (from === 'reserved' || mode === 'reserved')
        this.#deps.events.servingModeChanged(this.key, from, mode, this.breaker.queued);
    }
    let capacity = 0;
    if (mode === 'standard')
      capacity =
        this.containerConcurrency === 0 ? Infinity : standard * this.containerConcurrency + this.#reservedInFlight();
    else if (mode === 'reserved') capacity = reserved * this.#reservedConcurrency;
    this.breaker.setCapacity(capacity);
  }

  #reservedInFlight(): number {
    if (this.#reservedConcurrency === 0) return 0;
    let inFlight = 0;
    for (const pod of this.#pods.values()) if (pod.reserved) inFlight += pod.inFlight;
    return inFlight;
  }
}

/** One `K-Network-Probe: queue` request: undefined for 200 with body `queue`, else why not. */
async function probeQueueProxy(dispatcher: Dispatcher): Promise<string | undefined> {
  try {
    const res = await dispatcher.request({
      path: '/healthz',
      method: 'GET',
      headers: PROBE_HEADERS,
      // Covers connecting too: an unreachable pod must not stall its probe loop.
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    const body = await res.body.text();
    return res.statusCode === 200 && body === ProbeValues.queue
      ? undefined
      : `status ${res.statusCode}: ${body.slice(0, 100)}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).name;
  }
}
