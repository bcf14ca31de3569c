// The process's informer on the system namespace's ConfigMaps, each known ConfigMap parsed once per
// change into a frozen snapshot (upstream pkg/apis/config/store.go). Readers take the snapshot at the
// start of a reconcile or admission and use it throughout, so one request never sees two configs.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from '../kube/informer.ts';
import type { InformerFactory } from '../kube/informerFactory.ts';
import { createLogger, type Logger } from '../log.ts';
import type { ConfigIssueReporter } from './parse.ts';

interface ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

export type ConfigData = Record<string, string> | undefined;

/**
 * A ConfigMap name and its parser; parse(undefined) gives the value when the ConfigMap is absent.
 * The parser reports each key it replaced by its default and throws only when it cannot parse at all.
 */
export interface ConfigEntry<T> {
  name: string;
  parse(data: ConfigData, report?: ConfigIssueReporter): T;
}

export type ConfigEntries<S> = { [K in keyof S]: ConfigEntry<S[K]> };
/** Deep-frozen at run time; typed shallowly so snapshots pass to builders that take plain config types. */
export type ConfigSnapshot<S> = { readonly [K in keyof S]: S[K] };

/**
 * Stands in for a ConfigMap that has no defaults (config-deployment needs queue-sidecar-image)
 * while it is absent or was never valid, so readers turn it into a condition instead of crashing.
 */
export class ConfigUnavailable {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Wraps a parser whose defaults are incomplete: absent means ConfigUnavailable, not a throw. */
export function requiredConfig<T>(
  parse: (data: ConfigData, report?: ConfigIssueReporter) => T,
): (data: ConfigData, report?: ConfigIssueReporter) => T | ConfigUnavailable {
  return (data, report) => {
    try {
      return parse(data, report);
    } catch (error) {
      if (data === undefined) return new ConfigUnavailable(messageOf(error));
      throw error;
    }
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export interface ConfigStoreOptions<S> {
  /** The process's factory: stores with other entries share its one ConfigMap informer. */
  informers: InformerFactory;
  namespace: string;
  entries: ConfigEntries<S>;
  log?: Logger;
}

export class ConfigStore<S extends object> {
  readonly #informer: Informer<ConfigMap>;
  readonly #entries: ConfigEntries<S>;
  readonly #byName = new Map<string, keyof S>();
  readonly #listeners: ((changed: string) => void)[] = [];
  readonly #seen = new Set<string>();
  readonly #waiting = new Map<string, (() => void)[]>();
  readonly #log: Logger;
  #snapshot: ConfigSnapshot<S>;

  constructor(options: ConfigStoreOptions<S>) {
    this.#entries = options.entries;
    this.#log = options.log ?? createLogger('config-store', { namespace: options.namespace });
    const initial = {} as { [K in keyof S]: S[K] };
    for (const key of Object.keys(options.entries) as (keyof S)[]) {
      const entry = options.entries[key];
      this.#byName.set(entry.name, key);
      initial[key] = entry.parse(undefined);
    }
    this.#snapshot = deepFreeze(initial);
    this.#informer = options.informers.informer<ConfigMap>({
      path: `/api/v1/namespaces/${options.namespace}/configmaps`,
    });
    this.#informer.addHandlers({
      onAdd: (cm) => this.#apply(cm, cm.data ?? {}),
      onUpdate: (previous, cm) => {
        if (previous.metadata?.resourceVersion !== cm.metadata?.resourceVersion) this.#apply(cm, cm.data ?? {});
      },
      onDelete: (cm) => this.#apply(cm, undefined),
    });
  }

  /** The current configuration; frozen, so callers may hold on to it. */
  snapshot(): ConfigSnapshot<S> {
    return this.#snapshot;
  }

  /** Called with the ConfigMap's name after each change that altered the snapshot. */
  onChange(listener: (changed: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves once the named ConfigMap exists (valid or not); never, if it never appears. */
  whenPresent(name: string): Promise<void> {
    if (this.#seen.has(name)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.set(name, [...(this.#waiting.get(name) ?? []), resolve]));
  }

  whenSynced(): Promise<void> {
    return this.#informer.whenSynced();
  }

  /**
   * A bad key falls back to its default alone and is logged by name; a ConfigMap that cannot be
   * parsed at all keeps the last good value, so one bad edit breaks nothing.
   */
  #apply(cm: ConfigMap, data: ConfigData): void {
    const name = cm.metadata?.name ?? '';
    if (data !== undefined && !this.#seen.has(name)) {
      this.#seen.add(name);
      for (const resolve of this.#waiting.get(name) ?? []) resolve();
      this.#waiting.delete(name);
    }
    const key = this.#byName.get(name);
    if (key === undefined) return;
    let value: S[keyof S];
    try {
      value = this.#entries[key].parse(data, (issue) =>
        this.#log.warn('invalid configuration key, using its default', {
          configMap: name,
          key: issue.key,
          error: issue.message,
        }),
      );
    } catch (error) {
      this.#log.error('ignoring invalid configuration', { configMap: name, error: messageOf(error) });
      // With no good value yet, the reader should see why rather than a stale "absent" message.
      if (!(this.#snapshot[key] instanceof ConfigUnavailable)) return;
      value = new ConfigUnavailable(messageOf(error)) as S[keyof S];
    }
    this.#snapshot = deepFreeze({ ...this.#snapshot, [key]: value }) as ConfigSnapshot<S>;
    this.#log.info('configuration updated', { configMap: name });
    for (const listener of this.#listeners) listener(name);
  }
}
