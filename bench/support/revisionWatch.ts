// Watches one revision's Deployment, pods and private Endpoints and notes when each step of a
// cold start is first seen, on this process's clock. Kubernetes' own timestamps are whole seconds;
// a watch sees a change milliseconds after the API server stores it, which is what the
// activator, the kubelet and the controllers see too.
import type { V1Deployment, V1Endpoints, V1Pod } from '@kubernetes/client-node';
import type { KubeRest } from '../../lib/kube/rest.ts';
import type { Marks } from './coldstartTimeline.ts';

/** Epoch ms with the sub-ms precision of the monotonic clock. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

type Observed = Pick<Marks, 'deploymentScaled' | 'podCreated' | 'podBound' | 'podIPSeen' | 'podReadySeen'>;

/** What a pod's state says about the steps it went through, for a pod first seen after `begin`. */
export function podSteps(pod: V1Pod): (keyof Observed)[] {
  const steps: (keyof Observed)[] = ['podCreated'];
  if (pod.spec?.nodeName) steps.push('podBound');
  if (pod.status?.podIP) steps.push('podIPSeen');
  if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) steps.push('podReadySeen');
  return steps;
}

/** Whether an Endpoints object lists the pod's IP, and whether as ready. */
export function endpointsState(endpoints: V1Endpoints, podIP: string): 'absent' | 'notReady' | 'ready' {
  let state: 'absent' | 'notReady' | 'ready' = 'absent';
  for (const subset of endpoints.subsets ?? []) {
    if (subset.addresses?.some((a) => a.ip === podIP)) return 'ready';
    if (subset.notReadyAddresses?.some((a) => a.ip === podIP)) state = 'notReady';
  }
  return state;
}

export class RevisionWatch {
  #kube: KubeRest;
  #namespace: string;
  #revision: string;
  #abort = new AbortController();
  #marks: Marks = {};
  #armed = false;
  #before = new Set<string>();
  #seenPods = new Set<string>();
  /** The first new pod of the current try, and its IP once known. */
  #pod: string | undefined;
  #podIP: string | undefined;
  #endpoints: V1Endpoints[] = [];

  constructor(kube: KubeRest, namespace: string, revision: string) {
    this.#kube = kube;
    this.#namespace = namespace;
    this.#revision = revision;
  }

  /** Opens the watches; the first events are the objects as they are now. */
  start(): void {
    const base = `/namespaces/${this.#namespace}`;
    const selector = `serving.knative.dev/revision=${this.#revision}`;
    this.#follow<V1Pod>(`/api/v1${base}/pods`, selector, (pod) => this.#onPod(pod));
    this.#follow<V1Endpoints>(
      `/api/v1${base}/endpoints`,
      `${selector},networking.internal.knative.dev/serviceType=Private`,
      (e) => {
        this.#endpoints = [e];
        this.#onEndpoints();
      },
    );
    this.#follow<V1Deployment>(`/apis/apps/v1${base}/deployments`, selector, (d) => {
      if ((d.spec?.replicas ?? 0) > 0) this.#note('deploymentScaled');
    });
  }

  /** Starts a try: pods that exist now are not its pod; nothing is noted until this is called. */
  begin(): void {
    this.#marks = {};
    this.#armed = true;
    this.#before = new Set(this.#seenPods);
    this.#pod = undefined;
    this.#podIP = undefined;
  }

  /** The try's observations so far, and the name of its pod. */
  end(): { marks: Marks; pod: string | undefined } {
    return { marks: { ...this.#marks }, pod: this.#pod };
  }

  stop(): void {
    this.#abort.abort();
  }

  #note(key: keyof Marks): void {
    if (this.#armed) this.#marks[key] ??= epochNow();
  }

  #onPod(pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    this.#seenPods.add(name);
    if (!this.#armed || this.#before.has(name) || pod.metadata?.deletionTimestamp) return;
    this.#pod ??= name;
    if (name !== this.#pod) return;
    for (const step of podSteps(pod)) this.#note(step);
    if (pod.status?.podIP) this.#podIP = pod.status.podIP;
    this.#onEndpoints();
  }

  #onEndpoints(): void {
    if (this.#podIP === undefined) return;
    for (const endpoints of this.#endpoints) {
      const state = endpointsState(endpoints, this.#podIP);
      if (state !== 'absent') this.#note('endpointsAddressSeen');
      if (state === 'ready') this.#note('endpointsReadySeen');
    }
  }

  /** Follows a watch until stopped, reopening it when the server ends it. */
  #follow<T extends V1Pod | V1Endpoints | V1Deployment>(path: string, labelSelector: string, onObject: (o: T) => void) {
    const loop = async () => {
      while (!this.#abort.signal.aborted) {
        try {
          for await (const event of this.#kube.watch<T & { apiVersion?: string; kind?: string }>(path, {
            query: { labelSelector },
            signal: this.#abort.signal,
          })) {
            if (event.type === 'ADDED' || event.type === 'MODIFIED') onObject(event.object);
          }
        } catch {
          if (this.#abort.signal.aborted) return;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    void loop();
  }
}
