// A keyed work queue with client-go's guarantees: a key waits in the queue at most once, and is
// held by at most one worker at a time; a key added while held is handed out again after done().
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { realClock, type Clock, type Timer } from '../clock.ts';
import { sharedMetric } from '../metrics.ts';
import { ItemExponentialBackoff } from './backoff.ts';

/** The longest delay node's timers keep (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface WorkQueueOptions {
  /** The `name` label on the workqueue_* metrics. */
  name: string;
  registry: Registry;
  clock?: Clock;
  backoff?: ItemExponentialBackoff;
}

interface Waiter {
  resolve(key: string | undefined): void;
}

// client-go's buckets: 10 ns to 10 s, one per power of ten.
const DURATION_BUCKETS = Array.from({ length: 10 }, (_, i) => 1e-8 * 10 ** i);

function queueMetrics(registry: Registry) {
  const labelNames = ['name'] as const;
  return {
    depth: sharedMetric(
      registry,
      'workqueue_depth',
      (registers) => new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers }),
    ),
    adds: sharedMetric(
      registry,
      'workqueue_adds_total',
      (registers) =>
        new Counter({
          name: 'workqueue_adds_total',
          help: 'Total number of adds handled by workqueue',
          labelNames,
          registers,
        }),
    ),
    queueDuration: sharedMetric(
      registry,
      'workqueue_queue_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'workqueue_queue_duration_seconds',
          help: 'How long in seconds an item stays in workqueue before being requested',
          labelNames,
          buckets: DURATION_BUCKETS,
          registers,
        }),
    ),
    workDuration: sharedMetric(
      registry,
      'workqueue_work_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'workqueue_work_duration_seconds',
          help: 'How long in seconds processing an item from workqueue takes',
          labelNames,
          buckets: DURATION_BUCKETS,
          registers,
        }),
    ),
    retries: sharedMetric(
      registry,
      'workqueue_retries_total',
      (registers) =>
        new Counter({
          name: 'workqueue_retries_total',
          help: 'Total number of retries handled by workqueue',
          labelNames,
          registers,
        }),
    ),
  };
}

export class WorkQueue {
  readonly #name: string;
  readonly #clock: Clock;
  readonly #backoff: ItemExponentialBackoff;
  readonly #metrics: ReturnType<typeof queueMetrics>;
  /** Keys waiting to be handed out, in arrival order, with when they arrived. */
  readonly #queue = new Map<string, number>();
  /** Keys that need processing: queued, or added again while a worker holds them. */
  readonly #dirty = new Set<string>();
  /** Keys held by a worker, with when it got them. */
  readonly #processing = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; timer: Timer }>();
  readonly #waiters: Waiter[] = [];
  #shuttingDown = false;
  #drained: (() => void) | undefined;

  constructor(options: WorkQueueOptions) {
    this.#name = options.name;
    this.#clock = options.clock ?? realClock;
    this.#backoff = options.backoff ?? new ItemExponentialBackoff();
    this.#metrics = queueMetrics(options.registry);
    this.#metrics.depth.set({ name: this.#name }, 0);
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#metrics.adds.inc({ name: this.#name });
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Resolves with the next key, or undefined once shut down and empty, or once signal aborts. */
  get(signal?: AbortSignal): Promise<string | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    if (this.#queue.size > 0) return Promise.resolve(this.#take());
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: (key) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(key);
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Releases key; if it was added meanwhile it goes back in the queue now. */
  done(key: string): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#metrics.workDuration.observe({ name: this.#name }, (this.#clock.now() - started) / 1000);
    if (this.#dirty.has(key)) this.#enqueue(key);
    this.#checkDrained();
  }

  /** Adds key once ms have passed; an earlier pending time for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    // A timer longer than node allows fires at once, so a far-off requeue (a certificate's renewal
    // in 60 days) would loop; processed early instead, the key simply asks again.
    const delay = Math.min(ms, MAX_TIMER_MS);
    const at = this.#clock.now() + delay;
    const pending = this.#delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delay);
    this.#delayed.set(key, { at, timer });
  }

  /** Adds key after its backoff, which grows with every call until forget(key). */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#metrics.retries.inc({ name: this.#name });
    this.addAfter(key, this.#backoff.when(key));
  }

  /** Resets key's backoff: call it when key was processed successfully. */
  forget(key: string): void {
    this.#backoff.forget(key);
  }

  numRequeues(key: string): number {
    return this.#backoff.numRequeues(key);
  }

  get length(): number {
    return this.#queue.size;
  }

  /**
   * Stops accepting keys and drops delayed ones. Workers still receive what is already queued,
   * then get() yields undefined; resolves once the queue is empty and no key is held.
   */
  shutDown(): Promise<void> {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) timer.cancel();
    this.#delayed.clear();
    if (this.#queue.size === 0) for (const waiter of this.#waiters.splice(0)) waiter.resolve(undefined);
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    this.#checkDrained();
    return drained;
  }

  #enqueue(key: string): void {
    this.#queue.set(key, this.#clock.now());
    this.#metrics.depth.set({ name: this.#name }, this.#queue.size);
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(this.#take());
  }

  #take(): string {
    const [key, added] = this.#queue.entries().next().value!;
    this.#queue.delete(key);
    this.#dirty.delete(key);
    const now = this.#clock.now();
    this.#processing.set(key, now);
    this.#metrics.depth.set({ name: this.#name }, this.#queue.size);
    this.#metrics.queueDuration.observe({ name: this.#name }, (now - added) / 1000);
    return key;
  }

  #checkDrained(): void {
    if (!this.#shuttingDown) return;
    if (this.#queue.size === 0) for (const waiter of this.#waiters.splice(0)) waiter.resolve(undefined);
    if (this.#queue.size === 0 && this.#processing.size === 0) this.#drained?.();
  }
}
