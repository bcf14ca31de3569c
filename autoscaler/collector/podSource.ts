// Where the autoscaler learns which pods of a revision are ready, and how many are on their way
// or going: from the pods themselves in a cluster, or from a fixed list when tests and
// benchmarks run queue-proxies as plain processes.
import type { V1Pod } from '@kubernetes/client-node';
import { Labels } from '../../lib/apis/serving.ts';
import { QueuePorts } from '../../lib/hop.ts';
import type { Informer } from '../../lib/kube/informer.ts';
import type { InformerFactory } from '../../lib/kube/informerFactory.ts';
import type { ScrapePod } from './sampling.ts';

/**
 * A revision's pods by state (upstream PodAccessor.PodCountsByState). notReady counts every
 * pod that exists but takes no requests: pending, terminating, and running but not ready.
 * Failed and succeeded pods are in none of the counts.
 */
export interface PodCounts {
  ready: number;
  notReady: number;
  pending: number;
  terminating: number;
}

export type UnreadyPodCounts = Omit<PodCounts, 'ready'>;

export interface PodSource {
  /** Running, ready, not terminating pods of the revision. */
  readyPods(namespace: string, revision: string): ScrapePod[];
  podCounts(namespace: string, revision: string): PodCounts;
}

const NO_UNREADY_PODS: UnreadyPodCounts = { notReady: 0, pending: 0, terminating: 0 };

export class StaticPodSource implements PodSource {
  readonly #pods = new Map<string, { ready: ScrapePod[]; unready: UnreadyPodCounts }>();

  /** The ready pods of a revision, and how many others it has; those others are never scraped. */
  set(namespace: string, revision: string, pods: ScrapePod[], unready: UnreadyPodCounts = NO_UNREADY_PODS): void {
    this.#pods.set(`${namespace}/${revision}`, { ready: [...pods], unready: { ...unready } });
  }

  readyPods(namespace: string, revision: string): ScrapePod[] {
    return [...(this.#pods.get(`${namespace}/${revision}`)?.ready ?? [])];
  }

  podCounts(namespace: string, revision: string): PodCounts {
    const entry = this.#pods.get(`${namespace}/${revision}`);
    return { ready: entry?.ready.length ?? 0, ...(entry?.unready ?? NO_UNREADY_PODS) };
  }
}

/** Ready as the kubelet reports it; a pod being deleted no longer takes new requests. */
export function isReadyPod(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !pod.metadata?.deletionTimestamp &&
    !!pod.status.podIP &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

export function countPodsByState(pods: Iterable<V1Pod>): PodCounts {
  const counts: PodCounts = { ready: 0, ...NO_UNREADY_PODS };
  for (const pod of pods) {
    const phase = pod.status?.phase;
    if (phase === 'Pending') {
      counts.pending++;
      counts.notReady++;
    } else if (phase === 'Running') {
      if (pod.metadata?.deletionTimestamp) counts.terminating++;
      if (isReadyPod(pod)) counts.ready++;
      else counts.notReady++;
    }
  }
  return counts;
}

export function toScrapePod(pod: V1Pod): ScrapePod {
  const started = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  return {
    name: pod.metadata?.name ?? '',
    ip: pod.status?.podIP ?? '',
    port: QueuePorts.autoscalerMetrics,
    startedAtMs: started ? new Date(started).getTime() : 0,
  };
}

/** Every pod labelled with a revision, cached by the process's informer. */
export class KubernetesPodSource implements PodSource {
  readonly informer: Informer<V1Pod>;

  constructor(informers: InformerFactory, namespace?: string) {
    const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
    this.informer = informers.informer<V1Pod>({ path, labelSelector: Labels.revision });
  }

  readyPods(namespace: string, revision: string): ScrapePod[] {
    return this.#podsOf(namespace, revision).filter(isReadyPod).map(toScrapePod);
  }

  podCounts(namespace: string, revision: string): PodCounts {
    return countPodsByState(this.#podsOf(namespace, revision));
  }

  #podsOf(namespace: string, revision: string): V1Pod[] {
    return this.informer.lister
      .listNamespace(namespace)
      .filter((pod) => pod.metadata?.labels?.[Labels.revision] === revision);
  }
}
