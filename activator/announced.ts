// Pods announced by their queue-proxy (lib/hop.ts ANNOUNCE_PATH) before their Endpoints list them.
// An announced pod joins its revision's backends as a not-ready address would, so it is probed
// before any request reaches it, until the Endpoints list it (from then on they rule, its removal
// included) or, if they never do (the pod went away first), until a short TTL passes. The
// source's reports pass through here unchanged but for the announced pods they do not list yet.
import type { Clock, Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import {
  podAddress,
  type AnnouncedPodListener,
  type PodSourceListener,
  type RevisionBackends,
  type RevisionKey,
} from './backends.ts';

/**
 * Long enough for the kubelet's next status write and the endpoints controller (about a second,
 * more under load), short enough that a pod that never made it to the Endpoints is soon forgotten.
 */
export const ANNOUNCED_TTL_MS = 10_000;
/** Announced pods held at once, over every revision: a bound on what announces can make us keep. */
export const MAX_ANNOUNCED_PODS = 4096;

/** An announced pod's address and when it is forgotten unless its Endpoints list it first. */
export type Announced = ReadonlyMap<string, number>;

/**
 * The backends with each announced pod the source does not list, as a not-ready pod, and the
 * announced pods still waiting for their Endpoints: those neither listed nor expired.
 */
export function withAnnounced(
  backends: RevisionBackends,
  announced: Announced,
  now: number,
): { backends: RevisionBackends; waiting: Map<string, number> } {
  const listed = new Set([...backends.pods, ...(backends.reserved?.pods ?? [])]);
  const waiting = new Map<string, number>();
  for (const [address, expiresAt] of announced) {
    if (expiresAt > now && !listed.has(address)) waiting.set(address, expiresAt);
  }
  if (waiting.size === 0) return { backends, waiting };
  const added = [...waiting.keys()];
  return {
    backends: { ...backends, pods: [...backends.pods, ...added], notReady: [...(backends.notReady ?? []), ...added] },
    waiting,
  };
}

export type AnnounceOutcome = 'accepted' | 'known' | 'unknown-revision' | 'full';

/** Sits between a PodSource and the revisions it reports to, adding the announced pods. */
export class Announcements implements PodSourceListener {
  #downstream: AnnouncedPodListener;
  #clock: Clock;
  #log: Logger;
  #ttlMs: number;
  #maxPods: number;
  /** The source's last report of each revision it knows. */
  #reported = new Map<RevisionKey, RevisionBackends>();
  #announced = new Map<RevisionKey, Map<string, number>>();
  #expiry = new Map<RevisionKey, Timer>();
  #count = 0;

  constructor(
    downstream: AnnouncedPodListener,
    options: { clock: Clock; log: Logger; ttlMs?: number; maxPods?: number },
  ) {
    this.#downstream = downstream;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#ttlMs = options.ttlMs ?? ANNOUNCED_TTL_MS;
    this.#maxPods = options.maxPods ?? MAX_ANNOUNCED_PODS;
  }

  revisionChanged(key: RevisionKey, backends: RevisionBackends | undefined): void {
    if (backends === undefined) {
      this.#reported.delete(key);
      this.#setAnnounced(key, new Map());
      this.#downstream.revisionChanged(key, undefined);
      return;
    }
    this.#reported.set(key, backends);
    this.#report(key);
  }

  /**
   * A pod of the revision at this IP answered its readiness probe: it joins the revision's pods at
   * the revision's announce port, unless the revision is unknown (or takes no announcements) or
   * too many announced pods are waiting already; a pod already known is probed again at once.
   */
  announce(key: RevisionKey, ip: string): AnnounceOutcome {
    const backends = this.#reported.get(key);
    if (backends?.announcePort === undefined) return 'unknown-revision';
    const address = podAddress(ip, backends.announcePort);
    const now = this.#clock.now();
    const current = withAnnounced(backends, this.#announced.get(key) ?? new Map(), now).waiting;
    if (current.has(address) || withAnnounced(backends, new Map([[address, Infinity]]), now).waiting.size === 0) {
      // Its Endpoints may have listed it before it was ready: probed on a timer, it need not wait for the next.
      this.#downstream.podAnnounced(key, address);
      return 'known';
    }
    if (this.#count >= this.#maxPods) return 'full';
    current.set(address, now + this.#ttlMs);
    this.#setAnnounced(key, current);
    // The moment the activator learns a pod this way is a phase of a cold start (bench/coldstart.ts).
    this.#log.info('pod announced', { revision: key, pod: address });
    this.#downstream.revisionChanged(key, withAnnounced(backends, current, now).backends);
    return 'accepted';
  }

  /** Reports the revision with its announced pods, forgetting those listed or expired. */
  #report(key: RevisionKey): void {
    const backends = this.#reported.get(key);
    if (backends === undefined) return;
    const merged = withAnnounced(backends, this.#announced.get(key) ?? new Map(), this.#clock.now());
    this.#setAnnounced(key, merged.waiting);
    this.#downstream.revisionChanged(key, merged.backends);
  }

  /** Keeps the revision's waiting pods, with a timer for the first of them to expire. */
  #setAnnounced(key: RevisionKey, waiting: Map<string, number>): void {
    this.#count += waiting.size - (this.#announced.get(key)?.size ?? 0);
    this.#expiry.get(key)?.cancel();
    this.#expiry.delete(key);
    if (waiting.size === 0) {
      this.#announced.delete(key);
      return;
    }
    this.#announced.set(key, waiting);
    const first = Math.min(...waiting.values());
    this.#expiry.set(
      key,
      this.#clock.setTimeout(() => {
        this.#expiry.delete(key);
        const expired = [...waiting].filter(([, at]) => at <= this.#clock.now()).map(([address]) => address);
        if (expired.length > 0)
          this.#log.info('announced pods expired before their endpoints listed them', { revision: key, pods: expired });
        this.#report(key);
      }, first - this.#clock.now()),
    );
  }

  /** Stops the expiry timers. */
  close(): void {
    for (const timer of this.#expiry.values()) timer.cancel();
    this.#expiry.clear();
  }
}
