// Records core/v1 Events about an object. A repeat of a recent identical event bumps the count of
// the existing Event instead of creating another, as client-go's recorder does, so a reconciler
// failing in a loop leaves one Event with a growing count rather than thousands of objects.
import type { KubernetesObject } from '@kubernetes/client-node';
import { realClock, type Clock } from '../clock.ts';
import { createLogger, type Logger } from '../log.ts';
import { isNotFound } from './errors.ts';
import type { KubeRest } from './rest.ts';

export type EventType = 'Normal' | 'Warning';

/** Where reconcilers record events: an EventRecorder, or nothing where no one reads them. */
export type EventSink = Pick<EventRecorder, 'event'>;

export const NO_EVENTS: EventSink = { event: async () => {} };

export interface EventRecorderOptions {
  client: KubeRest;
  /** Who reports: shown as the event's source. */
  component: string;
  host?: string;
  /** An identical event older than this starts a new Event rather than counting on the old one. */
  dedupeWindowMs?: number;
  clock?: Clock;
  log?: Logger;
}

interface Recorded {
  namespace: string;
  name: string;
  count: number;
  lastSeen: number;
}

const MAX_REMEMBERED = 4096;

/** metav1.Time has whole seconds. */
function time(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export class EventRecorder {
  readonly #client: KubeRest;
  readonly #component: string;
  readonly #host: string | undefined;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Insertion-ordered, so the first entry is the least recently used. */
  readonly #recent = new Map<string, Recorded>();
  #sequence = 0;
  /** Writes go one at a time so two identical events cannot both create a new Event. */
  #tail: Promise<void> = Promise.resolve();

  constructor(options: EventRecorderOptions) {
    this.#client = options.client;
    this.#component = options.component;
    this.#host = options.host;
    this.#windowMs = options.dedupeWindowMs ?? 10 * 60_000;
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? createLogger('events', { component: options.component });
  }

  /** Never rejects: a lost event must not fail the reconcile that reported it. */
  event(object: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const written = this.#tail.then(() => this.#write(object, type, reason, message));
    this.#tail = written;
    return written;
  }

  async #write(object: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const { name, namespace, uid } = object.metadata ?? {};
    const key = JSON.stringify([object.apiVersion, object.kind, namespace, name, uid, type, reason, message]);
    const now = this.#clock.now();
    try {
      const recent = this.#recent.get(key);
      this.#recent.delete(key);
      if (recent && now - recent.lastSeen < this.#windowMs && (await this.#bump(recent, now))) {
        this.#remember(key, { ...recent, count: recent.count + 1, lastSeen: now });
        return;
      }
      const eventNamespace = namespace ?? 'default';
      const eventName = `${name}.${this.#uniqueSuffix(now)}`;
      await this.#client.request('POST', `/api/v1/namespaces/${eventNamespace}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: eventName, namespace: eventNamespace },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            namespace,
            name,
            uid,
            resourceVersion: object.metadata?.resourceVersion,
          },
          type,
          reason,
          message,
          source: { component: this.#component, host: this.#host },
          reportingComponent: this.#component,
          reportingInstance: this.#host ?? '',
          firstTimestamp: time(now),
          lastTimestamp: time(now),
          count: 1,
        },
      });
      this.#remember(key, { namespace: eventNamespace, name: eventName, count: 1, lastSeen: now });
    } catch (error) {
      this.#log.warn('could not record event', { reason, object: `${namespace ?? ''}/${name}`, error });
    }
  }

  /** False when the Event has gone (expired or deleted), so the caller creates a new one. */
  async #bump(recent: Recorded, now: number): Promise<boolean> {
    try {
      await this.#client.request('PATCH', `/api/v1/namespaces/${recent.namespace}/events/${recent.name}`, {
        body: { count: recent.count + 1, lastTimestamp: time(now) },
        contentType: 'application/merge-patch+json',
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  #remember(key: string, recorded: Recorded): void {
    this.#recent.set(key, recorded);
    if (this.#recent.size > MAX_REMEMBERED) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /** client-go names events `<object>.<unix nanos in hex>`; the sequence keeps same-millisecond names apart. */
  #uniqueSuffix(now: number): string {
    this.#sequence = (this.#sequence + 1) % 1_000_000;
    return (BigInt(now) * 1_000_000n + BigInt(this.#sequence)).toString(16);
  }
}
