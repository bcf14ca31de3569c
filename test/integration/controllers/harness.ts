// In-process reconcilers against the run's API server, and stand-ins for what would otherwise
// move their children along: the kubelet and deployment controller (Deployment status), the
// autoscaler (PodAutoscaler status) and a gateway (Ingress status). No kubelet or
// kube-controller-manager runs in the test control plane.
import { Registry } from 'prom-client';
import { afterEach, inject } from 'vitest';
import {
  RESYNC_PERIOD_MS,
  startReconcilers,
  type Reconcilers,
  type ReconcilersOptions,
} from '../../../controllers/reconcilers.ts';
import { isNotFound } from '../../../lib/kube/errors.ts';
import { InformerFactory } from '../../../lib/kube/informerFactory.ts';
import { createKubeRest, type KubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import { eventually } from '../lib/wait.ts';

export { FakeDataPlane } from '../../../harness/fakeDataPlane.ts';

export const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));

export const QUEUE_IMAGE = 'dev.local/pilotlight/queue-proxy:test';

type Json = Record<string, any>;

export const get = <T = Json>(path: string) => api.request<T>('GET', path);
export const serving = (ns: string, plural: string, name = '') =>
  `/apis/serving.knative.dev/v1/namespaces/${ns}/${plural}${name ? `/${name}` : ''}`;
export const deploymentsPath = (ns: string, name = '') =>
  `/apis/apps/v1/namespaces/${ns}/deployments${name ? `/${name}` : ''}`;
export const podAutoscalersPath = (ns: string, name = '') =>
  `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${ns}/podautoscalers${name ? `/${name}` : ''}`;
export const ingressesPath = (ns: string, name = '') =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses${name ? `/${name}` : ''}`;

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
  if (existing)
    await api.request('PUT', `/api/v1/namespaces/${ns}/configmaps/${name}`, {
      body: { ...body, metadata: existing.metadata },
    });
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

export interface Running extends Reconcilers {
  registry: Registry;
}

/** The reconcilers as controllers/main.ts runs them, with the process's informer factory, which stop() stops too. */
export async function startInProcess(ns: string, extra: Partial<ReconcilersOptions> = {}): Promise<Running> {
  const registry = new Registry();
  const informers = new InformerFactory({
    client: extra.client ?? api,
    resyncPeriodMs: RESYNC_PERIOD_MS,
    clock: extra.clock,
  });
  informers.start();
  const reconcilers = startReconcilers({
    client: api,
    informers,
    systemNamespace: ns,
    namespace: ns,
    registry,
    ...extra,
  });
  await reconcilers.whenSynced();
  return {
    whenSynced: reconcilers.whenSynced,
    async stop() {
      await reconcilers.stop();
      await informers.stop();
    },
    registry,
  };
}

/** Reconciles counted by this instance's controllers, any result. */
export async function reconcileCount(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('controller_reconcile_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/** queue-proxy's variables whose names start with prefix, in a Deployment's pod template. */
export const queueProxyEnv = (deployment: Json, prefix: string): Record<string, string | undefined> =>
  Object.fromEntries(
    ((deployment.spec.template.spec.containers[1]?.env ?? []) as Array<{ name: string; value?: string }>)
      .filter((e) => e.name.startsWith(prefix))
      .map((e) => [e.name, e.value]),
  );

export function condition(object: Json | undefined, type: string): Json | undefined {
  return (object?.status?.conditions as Json[] | undefined)?.find((c) => c.type === type);
}

/** Polls read until it returns something that passes ok, and returns that. */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  ok: (value: NonNullable<T>) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  let last: T | undefined;
  await eventually(
    async () => {
      last = await read();
      return last !== undefined && last !== null && ok(last);
    },
    what,
    timeoutMs,
  );
  return last as NonNullable<T>;
}

export const isReadyNow = (object: Json) =>
  condition(object, 'Ready')?.status === 'True' && object.status?.observedGeneration === object.metadata?.generation;

export function ksvc(name: string, image = 'dev.local/hello:1', extra: Json = {}): Json {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name },
    spec: { template: { spec: { containers: [{ image }] } }, ...extra },
  };
}

/**
 * What a test file's tests register to undo (controllers, fake data planes), run after each test,
 * the last registered first.
 */
export function cleanupsAfterEach(): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
