// In-process reconcilers against the run's API server, and stand-ins for what would otherwise
// move their children along: the kubelet and deployment controller (Deployment status), the
// autoscaler (PodAutoscaler status) and a gateway (Ingress status). No kubelet or
// kube-controller-manager runs in the test control plane.
import type { V1Deployment } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { inject } from 'vitest';
import { startReconcilers, type Reconcilers, type ReconcilersOptions } from '../../../controllers/reconcilers.ts';
import { isNotFound } from '../../../lib/kube/errors.ts';
import { createKubeRest, loadKubeConfig, type KubeRest } from '../../../lib/kube/rest.ts';
import { eventually } from '../lib/wait.ts';

export const api = createKubeRest(loadKubeConfig(inject('kubeconfig')));

export const QUEUE_IMAGE = 'dev.local/pilotlight/queue-proxy:test';

type Json = Record<string, any>;

export const get = <T = Json>(path: string) => api.request<T>('GET', path);
export const serving = (ns: string, plural: string, name = '') => `/apis/serving.knative.dev/v1/namespaces/${ns}/${plural}${name ? `/${name}` : ''}`;
export const deploymentsPath = (ns: string, name = '') => `/apis/apps/v1/namespaces/${ns}/deployments${name ? `/${name}` : ''}`;
export const podAutoscalersPath = (ns: string, name = '') => `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${ns}/podautoscalers${name ? `/${name}` : ''}`;
export const ingressesPath = (ns: string, name = '') => `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses${name ? `/${name}` : ''}`;

export async function getOrUndefined<T = Json>(path: string): Promise<T | undefined> {
  try {
    return await get<T>(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export const list = async <T = Json>(path: string) => (await get<{ items: T[] }>(path)).items;

/**
 * The test namespace doubles as the reconcilers' system namespace, so each test has its own
 * ConfigMaps. The run's own `pilotlight controller` (started by the global setup) has no
 * config-deployment in knative-serving, so its reconcilers never start and never compete.
 */
export async function putConfigMap(ns: string, name: string, data: Record<string, string>): Promise<void> {
  const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data };
  const existing = await getOrUndefined(`/api/v1/namespaces/${ns}/configmaps/${name}`);
  if (existing) await api.request('PUT', `/api/v1/namespaces/${ns}/configmaps/${name}`, { body: { ...body, metadata: existing.metadata } });
  else await api.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body });
}

/** The API client with every write it makes written down, e.g. `PUT /apis/…/status`. */
export function recordingClient(inner: KubeRest): { client: KubeRest; writes: string[] } {
  const writes: string[] = [];
  return {
    writes,
    client: {
      request(method, path, options) {
        if (method !== 'GET') writes.push(`${method} ${path}`);
        return inner.request(method, path, options);
      },
      watch: (path, options) => inner.watch(path, options),
    },
  };
}

export interface Running extends Reconcilers { registry: Registry }

export async function startInProcess(ns: string, extra: Partial<ReconcilersOptions> = {}): Promise<Running> {
  const registry = new Registry();
  const reconcilers = startReconcilers({ client: api, systemNamespace: ns, namespace: ns, registry, ...extra });
  await reconcilers.whenSynced();
  return { ...reconcilers, registry };
}

/** Reconciles counted by this instance's controllers, any result. */
export async function reconcileCount(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('controller_reconcile_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

const readyCondition = (type: string, generationTime: string) => ({ type, status: 'True', lastTransitionTime: generationTime });

async function putStatus(path: string, object: Json, status: Json): Promise<void> {
  try {
    await api.request('PUT', `${path}/status`, { body: { ...object, status } });
  } catch (error) {
    // Raced with the reconciler's own write or a delete; the next pass sees the new object.
    if (!isNotFound(error) && (error as { code?: number }).code !== 409) throw error;
  }
}

/**
 * Plays kubelet + deployment controller, autoscaler and gateway for one namespace: Deployments
 * get their replicas ready, PodAutoscalers report the scale target initialized, Ingresses are
 * marked Ready at their current generation. Revisions named in `held` get nothing, so they stay
 * not ready until released.
 */
export class FakeDataPlane {
  readonly held = new Set<string>();
  readonly #ns: string;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(ns: string) {
    this.#ns = ns;
  }

  start(): this {
    this.#loop = this.#run();
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      await this.#pass();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #pass(): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const d of await list<V1Deployment & Json>(deploymentsPath(this.#ns))) {
      const revision = d.metadata?.labels?.['serving.knative.dev/revision'] ?? '';
      const replicas = d.spec?.replicas ?? 0;
      if (this.held.has(revision) || (d.status?.observedGeneration === d.metadata?.generation && d.status?.readyReplicas === replicas)) continue;
      await putStatus(deploymentsPath(this.#ns, d.metadata!.name!), d, {
        observedGeneration: d.metadata?.generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastUpdateTime: now, lastTransitionTime: now },
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: now, lastTransitionTime: now },
        ],
      });
    }
    for (const pa of await list(podAutoscalersPath(this.#ns))) {
      const name = pa.metadata.name as string;
      if (this.held.has(name) || pa.status?.serviceName) continue;
      await putStatus(podAutoscalersPath(this.#ns, name), pa, {
        observedGeneration: pa.metadata.generation, serviceName: name, metricsServiceName: `${name}-private`, desiredScale: 1, actualScale: 1,
        conditions: ['Active', 'Ready', 'SKSReady', 'ScaleTargetInitialized'].map((type) => readyCondition(type, now)),
      });
    }
    for (const ing of await list(ingressesPath(this.#ns))) {
      if (ing.status?.observedGeneration === ing.metadata.generation) continue;
      await putStatus(ingressesPath(this.#ns, ing.metadata.name), ing, {
        observedGeneration: ing.metadata.generation,
        conditions: ['LoadBalancerReady', 'NetworkConfigured', 'Ready'].map((type) => readyCondition(type, now)),
        publicLoadBalancer: { ingress: [{ domainInternal: 'gateway.pilotlight-system.svc.cluster.local' }] },
        privateLoadBalancer: { ingress: [{ domainInternal: 'gateway.pilotlight-system.svc.cluster.local' }] },
      });
    }
  }
}

export function condition(object: Json | undefined, type: string): Json | undefined {
  return (object?.status?.conditions as Json[] | undefined)?.find((c) => c.type === type);
}

/** Polls read until it returns something that passes ok, and returns that. */
export async function waitFor<T>(what: string, read: () => Promise<T>, ok: (value: NonNullable<T>) => boolean = () => true, timeoutMs = 20_000): Promise<NonNullable<T>> {
  let last: T | undefined;
  await eventually(async () => {
    last = await read();
    return last !== undefined && last !== null && ok(last);
  }, what, timeoutMs);
  return last as NonNullable<T>;
}

export const isReadyNow = (object: Json) => condition(object, 'Ready')?.status === 'True' && object.status?.observedGeneration === object.metadata?.generation;

export function ksvc(name: string, image = 'dev.local/hello:1', extra: Json = {}): Json {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name },
    spec: { template: { spec: { containers: [{ image }] } }, ...extra },
  };
}
