// Plays what no test control plane runs: the kubelet and deployment controller (Deployment
// status), the autoscaler (PodAutoscaler status) and a gateway (Ingress status), so reconcilers can
// be driven to Ready against a real API server. Used by integration tests and benchmarks.
import type { V1Deployment } from '@kubernetes/client-node';
import { isNotFound } from '../lib/kube/errors.ts';
import type { KubeRest } from '../lib/kube/rest.ts';
import { PollingLoop } from './pollingLoop.ts';

type Json = Record<string, any>;

const PASS_INTERVAL_MS = 50;

const scoped = (group: string, plural: string, ns: string | undefined) =>
  `${group}${ns ? `/namespaces/${ns}` : ''}/${plural}`;
const deployments = (ns?: string) => scoped('/apis/apps/v1', 'deployments', ns);
const podAutoscalers = (ns?: string) => scoped('/apis/autoscaling.internal.knative.dev/v1alpha1', 'podautoscalers', ns);
const ingresses = (ns?: string) => scoped('/apis/networking.internal.knative.dev/v1alpha1', 'ingresses', ns);

const readyCondition = (type: string, generationTime: string) => ({
  type,
  status: 'True',
  lastTransitionTime: generationTime,
});

async function putStatus(api: KubeRest, path: string, object: Json, status: Json): Promise<void> {
  try {
    await api.request('PUT', `${path}/status`, { body: { ...object, status } });
  } catch (error) {
    // Raced with the reconciler's own write or a delete; the next pass sees the new object.
    if (!isNotFound(error) && (error as { code?: number }).code !== 409) throw error;
  }
}

/**
 * Plays kubelet + deployment controller, autoscaler and gateway for one namespace (or all, when
 * none is given): Deployments
 * get their replicas ready, PodAutoscalers report the scale target initialized, Ingresses are
 * marked Ready at their current generation. Revisions and Ingresses named in `held` get nothing,
 * so they stay not ready until released.
 */
export class FakeDataPlane {
  readonly held = new Set<string>();
  readonly #api: KubeRest;
  readonly #ns: string | undefined;
  readonly #loop = new PollingLoop('fake data plane', PASS_INTERVAL_MS, () => this.#pass());

  constructor(api: KubeRest, ns?: string) {
    this.#api = api;
    this.#ns = ns;
  }

  start(): this {
    this.#loop.start();
    return this;
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async #pass(): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const d of await this.#list<V1Deployment & Json>(deployments(this.#ns))) {
      const revision = d.metadata?.labels?.['serving.knative.dev/revision'] ?? '';
      const replicas = d.spec?.replicas ?? 0;
      if (
        this.held.has(revision) ||
        (d.status?.observedGeneration === d.metadata?.generation && d.status?.readyReplicas === replicas)
      )
        continue;
      await putStatus(this.#api, `${deployments(d.metadata!.namespace)}/${d.metadata!.name}`, d, {
        observedGeneration: d.metadata?.generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
          {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            lastUpdateTime: now,
            lastTransitionTime: now,
          },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicaSetAvailable',
            lastUpdateTime: now,
            lastTransitionTime: now,
          },
        ],
      });
    }
    for (const pa of await this.#list(podAutoscalers(this.#ns))) {
      const name = pa.metadata.name as string;
      if (this.held.has(name) || pa.status?.serviceName) continue;
      await putStatus(this.#api, `${podAutoscalers(pa.metadata.namespace)}/${name}`, pa, {
        observedGeneration: pa.metadata.generation,
        serviceName: name,
        metricsServiceName: `${name}-private`,
        desiredScale: 1,
        actualScale: 1,
        conditions: ['Active', 'Ready', 'SKSReady', 'ScaleTargetInitialized'].map((type) => readyCondition(type, now)),
      });
    }
    for (const ing of await this.#list(ingresses(this.#ns))) {
      if (this.held.has(ing.metadata.name) || ing.status?.observedGeneration === ing.metadata.generation) continue;
      await putStatus(this.#api, `${ingresses(ing.metadata.namespace)}/${ing.metadata.name}`, ing, {
        observedGeneration: ing.metadata.generation,
        conditions: ['LoadBalancerReady', 'NetworkConfigured', 'Ready'].map((type) => readyCondition(type, now)),
        publicLoadBalancer: { ingress: [{ domainInternal: 'gateway.pilotlight-system.svc.cluster.local' }] },
        privateLoadBalancer: { ingress: [{ domainInternal: 'gateway.pilotlight-system.svc.cluster.local' }] },
      });
    }
  }

  async #list<T = Json>(path: string): Promise<T[]> {
    return (await this.#api.request<{ items: T[] }>('GET', path)).items;
  }
}
