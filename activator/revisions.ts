// The revisions this activator serves, kept in step with a PodSource: one throttler each.
import type { Logger } from '../lib/log.ts';
import type { RequestTimeouts } from '../lib/http/timeouts.ts';
import type { AnnouncedPodListener, RevisionBackends, RevisionKey } from './backends.ts';
import { RevisionThrottler, type ThrottlerDeps } from './throttler.ts';

export interface ServedRevision {
  readonly namespace: string;
  readonly name: string;
  readonly key: RevisionKey;
  timeouts: RequestTimeouts;
  readonly throttler: RevisionThrottler;
  /** Requests admitted and not yet answered, for metrics. */
  active: number;
}

export class Revisions implements AnnouncedPodListener {
  #byKey = new Map<RevisionKey, ServedRevision>();
  #deps: ThrottlerDeps;
  #log: Logger;

  constructor(deps: ThrottlerDeps) {
    this.#deps = deps;
    this.#log = deps.log;
  }

  get(key: RevisionKey): ServedRevision | undefined {
    return this.#byKey.get(key);
  }

  values(): IterableIterator<ServedRevision> {
    return this.#byKey.values();
  }

  revisionChanged(key: RevisionKey, backends: RevisionBackends | undefined): void {
    const existing = this.#byKey.get(key);
    if (backends === undefined) {
      if (existing === undefined) return;
      this.#byKey.delete(key);
      void existing.throttler.close();
      this.#log.info('revision removed', { revision: key });
      return;
    }
    const timeouts = {
      firstByteMs: backends.timeoutMs,
      responseStartMs: backends.responseStartTimeoutMs ?? 0,
      idleMs: backends.idleTimeoutMs ?? 0,
    };
    if (existing !== undefined) {
      if (existing.throttler.containerConcurrency !== backends.containerConcurrency) {
        // Revision specs are immutable; a source that says otherwise is wrong, not the revision.
        this.#log.warn('containerConcurrency of a revision cannot change; keeping the first', {
          revision: key,
          kept: existing.throttler.containerConcurrency,
          reported: backends.containerConcurrency,
        });
      }
      existing.timeouts = timeouts;
      existing.throttler.setPods(backends.pods, backends.reserved, backends.notReady);
      return;
    }
    const slash = key.indexOf('/');
    const revision: ServedRevision = {
      namespace: key.slice(0, slash),
      name: key.slice(slash + 1),
      key,
      timeouts,
      active: 0,
      throttler: new RevisionThrottler(key, backends.containerConcurrency, this.#deps),
    };
    this.#byKey.set(key, revision);
    this.#log.info('revision added', {
      revision: key,
      containerConcurrency: backends.containerConcurrency,
      pods: backends.pods.length,
      ...(backends.reserved === undefined
        ? {}
        : {
            reservedContainerConcurrency: backends.reserved.containerConcurrency,
            reservedPods: backends.reserved.pods.length,
          }),
    });
    revision.throttler.setPods(backends.pods, backends.reserved, backends.notReady);
  }

  podAnnounced(key: RevisionKey, address: string): void {
    this.#byKey.get(key)?.throttler.probeNow(address);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byKey.values()].map((revision) => revision.throttler.close()));
  }
}
