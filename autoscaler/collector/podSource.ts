// Where the autoscaler learns which pods of a revision are ready: from the pods themselves in a
// cluster, or from a fixed list when tests run queue-proxies as plain processes.
import type { V1Pod } from '@kubernetes/client-node';
import { Labels } from '../../lib/apis/serving.ts';
import { Informer } from '../../lib/kube/informer.ts';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { ScrapePod } from './sampling.ts';

/** The queue-proxy's autoscaler metrics port (Knative's http-autometric). */
export const AUTOSCALER_METRICS_PORT = 9090;

export interface PodSource {
  /** Running, ready, not terminating pods of the revision. */
  readyPods(namespace: string, revision: string): ScrapePod[];
}

export class StaticPodSource implements PodSource {
  readonly #pods = new Map<string, ScrapePod[]>();

  set(namespace: string, revision: string, pods: ScrapePod[]): void {
    this.#pods.set(`${namespace}/${revision}`, [...pods]);
  }

  readyPods(namespace: string, revision: string): ScrapePod[] {
    return [...this.#pods.get(`${namespace}/${revision}`) ?? []];
  }
}

/** Ready as the kubelet reports it; a pod being deleted no longer takes new requests. */
export function isReadyPod(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running'
    && !pod.metadata?.deletionTimestamp
    && !!pod.status.podIP
    && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function toScrapePod(pod: V1Pod): ScrapePod {
  const started = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  return {
    name: pod.metadata?.name ?? '',
    ip: pod.status?.podIP ?? '',
    port: AUTOSCALER_METRICS_PORT,
    startedAtMs: started ? new Date(started).getTime() : 0,
  };
}

/** Every pod labelled with a revision, cached by one informer. */
export class KubernetesPodSource implements PodSource {
  readonly informer: Informer<V1Pod>;

  constructor(client: KubeRest, namespace?: string) {
    const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
    this.informer = new Informer<V1Pod>({ client, path, labelSelector: Labels.revision });
  }

  readyPods(namespace: string, revision: string): ScrapePod[] {
    return this.informer.lister.listNamespace(namespace)
      .filter((pod) => pod.metadata?.labels?.[Labels.revision] === revision && isReadyPod(pod))
      .map(toScrapePod);
  }
}
