// List then watch one API collection into a Store and tell handlers what changed. The watch
// resumes from the last resourceVersion seen (bookmarks keep it fresh), so a watch that ends loses
// and repeats nothing; only an expired resourceVersion (410) forces a relist.
import type { KubernetesObject } from '@kubernetes/client-node';
import { realClock, sleep, type Clock, type Timer } from '../clock.ts';
import { createLogger, type Logger } from '../log.ts';
import { isGone } from './errors.ts';
import { KubeApiError, type KubeRest, type Query } from './rest.ts';
import { objectKey, Store, type Lister } from './store.ts';

export interface EventHandlers<T extends KubernetesObject> {
  onAdd?(object: T): void;
  onUpdate?(previous: T, current: T): void;
  onDelete?(object: T): void;
}

/** What the list/watch loop is doing, for logs, metrics and tests. */
export type InformerLifecycle =
  | { type: 'listed'; resourceVersion: string; count: number }
  | { type: 'watching'; resourceVersion: string }
  | { type: 'expired' }
  | { type: 'error'; error: unknown };

export interface InformerOptions {
  client: KubeRest;
  /** Collection path: `/api/v1/configmaps`, `/apis/serving.knative.dev/v1/namespaces/x/routes`, … */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The server closes each watch after this long; we then resume from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  /** Re-deliver every cached object as an update this often; 0 turns it off. */
  resyncPeriodMs?: number;
  pageSize?: number;
  /** Delay before reopening a failed or empty watch, doubling up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  clock?: Clock;
  log?: Logger;
  onLifecycle?: (event: InformerLifecycle) => void;
}

interface ListResponse<T> {
  kind?: string;
  apiVersion?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

interface Status {
  code?: number;
  message?: string;
  reason?: string;
}

/** Lets a watch that the network silently dropped be noticed even if the server never closes it. */
const WATCH_GRACE_SECONDS = 30;

export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly #options: InformerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store = new Store<T>();
  readonly #handlers: EventHandlers<T>[] = [];
  #resourceVersion: string | undefined;
  #synced = false;
  #markSynced!: () => void;
  readonly #syncedPromise = new Promise<void>((resolve) => {
    this.#markSynced = resolve;
  });
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;
  #resyncTimer: Timer | undefined;

  constructor(options: InformerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? createLogger('informer', { path: options.path });
  }

  get lister(): Lister<T> {
    return this.#store;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list is in the store and its adds delivered; never, if stopped before that. */
  whenSynced(): Promise<void> {
    return this.#syncedPromise;
  }

  /** A handler added late first sees every cached object as an add, as it would have at start. */
  addHandlers(handlers: EventHandlers<T>): void {
    this.#handlers.push(handlers);
    for (const object of this.#store.list()) this.#call('onAdd', () => handlers.onAdd?.(object));
  }

  start(): void {
    if (this.#running) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#running = this.#run(stop.signal);
    this.#scheduleResync();
  }

  async stop(): Promise<void> {
    this.#stop?.abort();
    this.#resyncTimer?.cancel();
    await this.#running;
    this.#running = undefined;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { initialMs, maxMs } = this.#options.backoff ?? { initialMs: 250, maxMs: 30_000 };
    let delay = initialMs;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === undefined) await this.#list(signal);
        if (await this.#watch(signal)) delay = initialMs;
      } catch (error) {
        if (signal.aborted) break;
        if (isGone(error)) {
          this.#log.info('resourceVersion expired, relisting', { resourceVersion: this.#resourceVersion });
          this.#resourceVersion = undefined;
          this.#options.onLifecycle?.({ type: 'expired' });
        } else {
          this.#log.warn('list/watch failed', { error, retryInMs: delay });
          this.#options.onLifecycle?.({ type: 'error', error });
        }
      }
      await sleep(this.#clock, delay, signal);
      delay = Math.min(delay * 2, maxMs);
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const page = await this.#options.client.request<ListResponse<T>>('GET', this.#options.path, {
        query: { ...this.#selectors(), limit: this.#options.pageSize ?? 500, continue: next },
        signal,
      });
      // List items come without kind and apiVersion; restore them so handlers see whole objects.
      const kind = page.kind?.replace(/List$/, '');
      for (const item of page.items) items.push({ apiVersion: page.apiVersion, kind, ...item });
      resourceVersion = page.metadata?.resourceVersion ?? '';
      next = page.metadata?.continue || undefined;
    } while (next);
    this.#replace(items);
    this.#resourceVersion = resourceVersion;
    this.#options.onLifecycle?.({ type: 'listed', resourceVersion, count: items.length });
    if (!this.#synced) {
      this.#synced = true;
      this.#markSynced();
    }
  }

  /** Makes the store equal to a fresh list; unchanged objects (same resourceVersion) stay silent. */
  #replace(items: T[]): void {
    const listed = new Set<string>();
    for (const object of items) {
      listed.add(objectKey(object));
      const previous = this.#store.set(object);
      if (!previous) this.#dispatchAdd(object);
      else if (previous.metadata?.resourceVersion !== object.metadata?.resourceVersion)
        this.#dispatchUpdate(previous, object);
    }
    for (const cached of this.#store.list()) {
      if (listed.has(objectKey(cached))) continue;
      this.#store.delete(cached);
      this.#dispatchDelete(cached);
    }
  }

  /** Returns whether the watch delivered anything, i.e. whether the connection was healthy. */
  async #watch(stopSignal: AbortSignal): Promise<boolean> {
    const resourceVersion = this.#resourceVersion ?? '';
    const timeoutSeconds = this.#options.watchTimeoutSeconds ?? 300;
    const watchdog = new AbortController();
    const guard = this.#clock.setTimeout(() => watchdog.abort(), (timeoutSeconds + WATCH_GRACE_SECONDS) * 1000);
    this.#options.onLifecycle?.({ type: 'watching', resourceVersion });
    let received = false;
    try {
      const events = this.#options.client.watch<T>(this.#options.path, {
        query: { ...this.#selectors(), resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        signal: AbortSignal.any([stopSignal, watchdog.signal]),
      });
      for await (const { type, object } of events) {
        received = true;
        if (type === 'ERROR') {
          const status = object as Status;
          throw new KubeApiError(status.code ?? 500, status.message ?? 'watch error', status.reason);
        }
        if (type === 'ADDED' || type === 'MODIFIED') {
          const previous = this.#store.set(object);
          if (previous) this.#dispatchUpdate(previous, object);
          else this.#dispatchAdd(object);
        } else if (type === 'DELETED') {
          this.#store.delete(object);
          this.#dispatchDelete(object);
        }
        this.#resourceVersion = object.metadata?.resourceVersion ?? this.#resourceVersion;
      }
    } finally {
      guard.cancel();
    }
    return received;
  }

  #selectors(): Query {
    return { labelSelector: this.#options.labelSelector, fieldSelector: this.#options.fieldSelector };
  }

  #scheduleResync(): void {
    const period = this.#options.resyncPeriodMs ?? 0;
    if (period <= 0) return;
    this.#resyncTimer = this.#clock.setTimeout(() => {
      for (const object of this.#store.list()) this.#dispatchUpdate(object, object);
      this.#scheduleResync();
    }, period);
  }

  #dispatchAdd(object: T): void {
    for (const h of this.#handlers) this.#call('onAdd', () => h.onAdd?.(object));
  }

  #dispatchUpdate(previous: T, current: T): void {
    for (const h of this.#handlers) this.#call('onUpdate', () => h.onUpdate?.(previous, current));
  }

  #dispatchDelete(object: T): void {
    for (const h of this.#handlers) this.#call('onDelete', () => h.onDelete?.(object));
  }

  /** One faulty handler must not starve the others or kill the watch. */
  #call(hook: keyof EventHandlers<T>, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error('event handler threw', { hook, error });
    }
  }
}
