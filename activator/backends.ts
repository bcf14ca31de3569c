// Where the activator learns which revisions exist and where their pods are. A source only
// reports what it knows; whether a pod can take traffic is decided by probing it
// (see throttler.ts), because the Kubernetes endpoint turns ready a probe period later. That
// an endpoint turned not ready is news, though: the pod is probed again before more traffic.

/** `namespace/name`, as Knative's types.NamespacedName prints. */
export type RevisionKey = string;

export function revisionKey(namespace: string, name: string): RevisionKey {
  return `${namespace}/${name}`;
}

/** A pod's `ip:port` as backends name it, an IPv6 address in brackets. */
export function podAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export interface RevisionBackends {
  /** 0 means unlimited, as in the Revision spec. */
  containerConcurrency: number;
  /** The revision's timeoutSeconds, in ms: how long a request may wait for its response to start. */
  timeoutMs: number;
  /** responseStartTimeoutSeconds and idleTimeoutSeconds, in ms, when the revision sets them. */
  responseStartTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** `host:port` of each pod's queue-proxy serving port, ready or not. */
  pods: readonly string[];
  /** The revision's reserved burstable instance, if it has one: served while no standard pod is healthy. */
  reserved?: ReservedBackends;
  /** Those of the pods and reserved pods whose endpoint is not ready, when there are any. */
  notReady?: readonly string[];
  /**
   * queue-proxy's serving port on the revision's pods, where a pod announced by its IP (see
   * announced.ts) is reached; without it the revision takes no announcements.
   */
  announcePort?: number;
}

export interface ReservedBackends {
  /** The reserved instance's own containerConcurrency, 1 or more (it is never unlimited). */
  containerConcurrency: number;
  /** `host:port` of each reserved pod's queue-proxy serving port, ready or not. */
  pods: readonly string[];
}

export interface PodSourceListener {
  /** The revision's current state; undefined once the revision is gone. */
  revisionChanged(key: RevisionKey, backends: RevisionBackends | undefined): void;
}

/** A listener that also hears when one of a revision's known pods says it is ready (see announced.ts). */
export interface AnnouncedPodListener extends PodSourceListener {
  podAnnounced(key: RevisionKey, address: string): void;
}

export interface PodSource {
  /** Starts reporting; resolves once every revision known at start has been reported. */
  start(listener: PodSourceListener): Promise<void>;
  stop(): Promise<void>;
}

/** Knative's default revision timeout (config-defaults revision-timeout-seconds). */
export const DEFAULT_TIMEOUT_MS = 300_000;
