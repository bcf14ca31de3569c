// The generic controller loop: informer events become keys in a WorkQueue, and N workers call
// reconcile(key). The reconciler sees only the key, so it must read current state and converge
// (level-triggered); the loop owns retries, timed requeues, metrics and leader gating.
import type { KubernetesObject } from '@kubernetes/client-node';
import { Counter, Histogram, type Registry } from 'prom-client';
import { realClock, type Clock } from './clock.ts';
import { isConflict } from './kube/errors.ts';
import type { EventHandlers } from './kube/informer.ts';
import type { LeaderElector } from './kube/leaderElection.ts';
import { objectKey } from './kube/store.ts';
import { createLogger, type Logger } from './log.ts';
import { sharedMetric } from './metrics.ts';
import { WorkQueue } from './workqueue/queue.ts';

export interface ReconcileResult {
  /** Reconcile this key again after this long even if nothing changes (e.g. to poll a rollout). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string, log: Logger) => Promise<ReconcileResult | void>;

/** What the controller needs from an informer. */
export interface EventSource<T extends KubernetesObject> {
  addHandlers(handlers: EventHandlers<T>): void;
  whenSynced(): Promise<void>;
}

export type Leadership = Pick<LeaderElector, 'isLeader' | 'subscribe'>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  registry: Registry;
  workers?: number;
  /** When given, reconcilers run only while this replica holds the lease. */
  leadership?: Leadership;
  clock?: Clock;
  log?: Logger;
}

type ReconcileOutcome = 'success' | 'requeue' | 'error';

function controllerMetrics(registry: Registry) {
  return {
    reconciles: sharedMetric(
      registry,
      'controller_reconcile_total',
      (registers) =>
        new Counter({
          name: 'controller_reconcile_total',
          help: 'Reconciles by controller and result',
          labelNames: ['controller', 'result'] as const,
          registers,
        }),
    ),
    duration: sharedMetric(
      registry,
      'controller_reconcile_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'controller_reconcile_duration_seconds',
          help: 'Time spent in reconcile',
          labelNames: ['controller'] as const,
          registers,
        }),
    ),
  };
}

export class Controller {
  readonly queue: WorkQueue;
  readonly #name: string;
  readonly #reconcile: Reconciler;
  readonly #workerCount: number;
  readonly #leadership: Leadership | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: ReturnType<typeof controllerMetrics>;
  readonly #sources: Pick<EventSource<KubernetesObject>, 'whenSynced'>[] = [];
  readonly #stopped = new AbortController();
  #unsubscribe: (() => void) | undefined;
  /** Aborting it ends the current set of workers, e.g. when leadership is lost. */
  #term: AbortController | undefined;
  #workers: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.#name = options.name;
    this.#reconcile = options.reconcile;
    this.#workerCount = options.workers ?? 2;
    this.#leadership = options.leadership;
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? createLogger('controller', { controller: options.name });
    this.#metrics = controllerMetrics(options.registry);
    this.queue = new WorkQueue({ name: options.name, registry: options.registry, clock: this.#clock });
  }

  /** Enqueues toKeys(object) on every event from source; by default the object's own key. */
  watch<T extends KubernetesObject>(
    source: EventSource<T>,
    toKeys: (object: T) => string[] = (object) => [objectKey(object)],
  ): void {
    this.#sources.push(source);
    const enqueue = (object: T) => {
      for (const key of toKeys(object)) this.queue.add(key);
    };
    source.addHandlers({
      onAdd: enqueue,
      // The old object matters when the mapping moved, e.g. a child that changed owner.
      onUpdate: (previous, current) => {
        enqueue(previous);
        enqueue(current);
      },
      onDelete: enqueue,
    });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Waits for every watched source to sync, then runs workers (at once, or whenever leading). */
  async start(): Promise<void> {
    const stopped = new Promise<void>((resolve) =>
      this.#stopped.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([Promise.all(this.#sources.map((source) => source.whenSynced())), stopped]);
    if (this.#stopped.signal.aborted) return;
    if (!this.#leadership) return this.#startWorkers();
    this.#unsubscribe = this.#leadership.subscribe({
      onStartedLeading: () => this.#startWorkers(),
      onStoppedLeading: () => this.#stopWorkers(),
    });
    if (this.#leadership.isLeader()) this.#startWorkers();
  }

  /** Lets in-flight reconciles finish; keys still queued are dropped (informers rebuild them). */
  async stop(): Promise<void> {
    this.#stopped.abort();
    this.#unsubscribe?.();
    await this.#stopWorkers();
    void this.queue.shutDown();
  }

  #startWorkers(): void {
    if (this.#term) return;
    const term = new AbortController();
    this.#term = term;
    this.#log.info('starting workers', { workers: this.#workerCount });
    this.#workers = Array.from({ length: this.#workerCount }, () => this.#work(term.signal));
  }

  async #stopWorkers(): Promise<void> {
    this.#term?.abort();
    this.#term = undefined;
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  async #work(signal: AbortSignal): Promise<void> {
    for (let key = await this.queue.get(signal); key !== undefined; key = await this.queue.get(signal)) {
      await this.#process(key);
    }
  }

  async #process(key: string): Promise<void> {
    // Knative's name for the key a reconciler line is about, which its log pipelines index.
    const log = this.#log.with({ 'knative.dev/key': key });
    const started = this.#clock.now();
    let outcome: ReconcileOutcome;
    try {
      const result = await this.#reconcile(key, log);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        outcome = 'requeue';
      } else {
        outcome = 'success';
      }
    } catch (error) {
      this.queue.addRateLimited(key);
      outcome = 'error';
      // A write that lost a race with another writer is retried against the newer object; that is
      // routine in optimistic concurrency, not a failure anyone has to look at.
      if (isConflict(error))
        log.debug('reconcile retried after a write conflict', {
          error: (error as Error).message,
          retries: this.queue.numRequeues(key),
        });
      else log.error('reconcile failed', { error, retries: this.queue.numRequeues(key) });
    } finally {
      this.queue.done(key);
    }
    this.#metrics.reconciles.inc({ controller: this.#name, result: outcome });
    this.#metrics.duration.observe({ controller: this.#name }, (this.#clock.now() - started) / 1000);
  }
}
