// One informer per collection and selector in a process (client-go's SharedInformerFactory): every
// part of a process that reads the same objects shares one list, one watch and one cache, and adds
// its own handlers. Whoever creates the factory starts it once and stops it at shutdown; the parts
// it is handed to never start or stop informers themselves.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { Informer } from './informer.ts';
import type { KubeRest } from './rest.ts';

/** What an informer watches, and so which consumers share it. */
export interface InformerSelection {
  /** Collection path, namespace included: `/api/v1/namespaces/x/configmaps`, `/api/v1/pods`, … */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface InformerFactoryOptions {
  client: KubeRest;
  /** Re-deliver every cached object as an update this often; none by default. */
  resyncPeriodMs?: number;
  clock?: Clock;
  log?: Logger;
}

export class InformerFactory {
  readonly #options: InformerFactoryOptions;
  readonly #informers = new Map<string, Informer<KubernetesObject>>();
  #started = false;

  constructor(options: InformerFactoryOptions) {
    this.#options = options;
  }

  /** The one informer of this selection, made on first request; it runs once the factory is started. */
  informer<T extends KubernetesObject>(selection: InformerSelection): Informer<T> {
    const key = [selection.path, selection.labelSelector ?? '', selection.fieldSelector ?? ''].join('\n');
    let informer = this.#informers.get(key);
    if (informer === undefined) {
      const { client, resyncPeriodMs, clock, log } = this.#options;
      informer = new Informer({
        client,
        ...selection,
        resyncPeriodMs,
        clock,
        log: log?.with({ informer: selection.path }),
      });
      this.#informers.set(key, informer);
      if (this.#started) informer.start();
    }
    return informer as Informer<T>;
  }

  /** Starts every informer handed out so far, and each later one as it is handed out. */
  start(): void {
    this.#started = true;
    for (const informer of this.#informers.values()) informer.start();
  }

  async stop(): Promise<void> {
    this.#started = false;
    await Promise.all([...this.#informers.values()].map((informer) => informer.stop()));
  }
}
