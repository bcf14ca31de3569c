// The Kubernetes pod source against an in-memory API: what it reports as Revisions and their
// private Endpoints are listed, change and go away. No sockets: the activator's use of the
// reports is covered by the process tests with the static source.
import type { HttpMethod, KubernetesObject, V1Endpoints } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { RevisionBackends } from '../../../activator/backends.ts';
import { KubePodSource } from '../../../activator/kubeSource.ts';
import type { KubeRest, RequestOptions, WatchEvent } from '../../../lib/kube/rest.ts';
import { createLogger } from '../../../lib/log.ts';

/** Lists what it was given per path, then streams pushed events until the informer stops. */
class InMemoryApi implements KubeRest {
  #lists: Record<string, KubernetesObject[]>;
  #watchers = new Map<string, (event: WatchEvent) => void>();
  #pending = new Map<string, WatchEvent[]>();

  constructor(lists: Record<string, KubernetesObject[]>) {
    this.#lists = lists;
  }

  async request<T>(_method: HttpMethod, path: string): Promise<T> {
    return { metadata: { resourceVersion: '1' }, items: this.#lists[path] ?? [] } as T;
  }

  async *watch<T extends KubernetesObject>(path: string, options: RequestOptions = {}): AsyncIterable<WatchEvent<T>> {
    const queue = this.#pending.get(path) ?? [];
    this.#pending.set(path, queue);
    let wake: (() => void) | undefined;
    this.#watchers.set(path, () => wake?.());
    const stopped = () => options.signal?.aborted === true;
    options.signal?.addEventListener('abort', () => wake?.(), { once: true });
    while (!stopped()) {
      const event = queue.shift();
      if (event !== undefined) {
        yield event as WatchEvent<T>;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }

  push(path: string, event: WatchEvent): void {
    const queue = this.#pending.get(path) ?? [];
    this.#pending.set(path, queue);
    queue.push(event);
    this.#watchers.get(path)?.(event);
  }
}

const REVISIONS = '/apis/serving.knative.dev/v1/revisions';
const ENDPOINTS = '/api/v1/endpoints';

const revision = (
  name: string,
  spec: {
    containerConcurrency?: number;
    timeoutSeconds?: number;
    responseStartTimeoutSeconds?: number;
    idleTimeoutSeconds?: number;
  },
): KubernetesObject =>
  ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: { namespace: 'ns', name, resourceVersion: '1' },
    spec: { containers: [], ...spec },
  }) as KubernetesObject;

const privateEndpoints = (
  revisionName: string,
  resourceVersion: string,
  ready: string[],
  notReady: string[],
): V1Endpoints => ({
  metadata: {
    namespace: 'ns',
    name: `${revisionName}-private`,
    resourceVersion,
    labels: { 'serving.knative.dev/revision': revisionName, 'networking.internal.knative.dev/serviceType': 'Private' },
  },
  subsets: [
    {
      addresses: ready.map((ip) => ({ ip })),
      notReadyAddresses: notReady.map((ip) => ({ ip })),
      ports: [
        { name: 'http-autometric', port: 9090 },
        { name: 'http', port: 8012 },
      ],
    },
  ],
});

async function until(what: string, check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !check(); attempt++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!check()) throw new Error(`never happened: ${what}`);
}

describe('KubePodSource', () => {
  let source: KubePodSource | undefined;
  afterEach(async () => {
    await source?.stop();
  });

  it('reports each revision with its timeouts and concurrency, and every private endpoint address, ready or not (and which are not), at the queue port', async () => {
    const api = new InMemoryApi({
      [REVISIONS]: [revision('a-00001', { containerConcurrency: 2, timeoutSeconds: 30 }), revision('b-00001', {})],
      [ENDPOINTS]: [privateEndpoints('a-00001', '1', ['10.0.0.1'], ['10.0.0.2'])],
    });
    const reports = new Map<string, RevisionBackends | undefined>();
    source = new KubePodSource(api, createLogger('test'));
    await source.start({ revisionChanged: (key, backends) => reports.set(key, backends) });

    expect(reports.get('ns/a-00001')).toEqual({
      containerConcurrency: 2,
      timeoutMs: 30_000,
      pods: ['10.0.0.1:8012', '10.0.0.2:8012'],
      notReady: ['10.0.0.2:8012'],
      announcePort: 8012,
    });
    expect(reports.get('ns/b-00001')).toEqual({
      containerConcurrency: 0,
      timeoutMs: 300_000,
      pods: [],
      announcePort: 8012,
    });

    api.push(ENDPOINTS, { type: 'ADDED', object: privateEndpoints('b-00001', '2', [], ['10.0.0.3']) });
    await until('b has its pod', () => reports.get('ns/b-00001')?.pods.length === 1);
    expect(reports.get('ns/b-00001')?.pods).toEqual(['10.0.0.3:8012']);
    expect(reports.get('ns/b-00001')?.notReady).toEqual(['10.0.0.3:8012']);

    api.push(ENDPOINTS, { type: 'DELETED', object: privateEndpoints('a-00001', '3', [], []) });
    await until('a lost its pods', () => reports.get('ns/a-00001')?.pods.length === 0);

    api.push(REVISIONS, { type: 'DELETED', object: revision('b-00001', {}) });
    await until('b is gone', () => reports.has('ns/b-00001') && reports.get('ns/b-00001') === undefined);
  });

  it("passes on the revision's response-start and idle timeouts when it sets them", async () => {
    const api = new InMemoryApi({
      [REVISIONS]: [revision('c-00001', { timeoutSeconds: 30, responseStartTimeoutSeconds: 5, idleTimeoutSeconds: 7 })],
      [ENDPOINTS]: [],
    });
    const reports = new Map<string, RevisionBackends | undefined>();
    source = new KubePodSource(api, createLogger('test'));
    await source.start({ revisionChanged: (key, backends) => reports.set(key, backends) });
    expect(reports.get('ns/c-00001')).toEqual({
      containerConcurrency: 0,
      timeoutMs: 30_000,
      responseStartTimeoutMs: 5000,
      idleTimeoutMs: 7000,
      pods: [],
      announcePort: 8012,
    });
  });

  it("names the h2c port as where an h2c revision's announced pods are reached", async () => {
    const h2c = revision('d-00001', {});
    (h2c as { spec: object }).spec = { containers: [{ image: 'app', ports: [{ name: 'h2c', containerPort: 8080 }] }] };
    const api = new InMemoryApi({ [REVISIONS]: [h2c], [ENDPOINTS]: [] });
    const reports = new Map<string, RevisionBackends | undefined>();
    source = new KubePodSource(api, createLogger('test'));
    await source.start({ revisionChanged: (key, backends) => reports.set(key, backends) });
    expect(reports.get('ns/d-00001')?.announcePort).toBe(8013);
  });
});
