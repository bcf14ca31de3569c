// Shared set-up for the autoscaler's integration tests: the objects a revision reconciler
// would have created, and a client that records the calls made through it.
import { Registry } from 'prom-client';
import { inject } from 'vitest';
import { startAutoscaler, type AutoscalerOptions, type RunningAutoscaler } from '../../../autoscaler/runtime.ts';
import { startServerlessServiceController } from '../../../autoscaler/serverlessservice/controller.ts';
import { InformerFactory } from '../../../lib/kube/informerFactory.ts';
import { createKubeRest, type KubeRest } from '../../../lib/kube/rest.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';

export const api = createKubeRest(loadKubeConnection(inject('kubeconfig')));

/** One process's informer factory, started as autoscaler/main.ts starts it; the caller stops it last. */
export function startedInformers(client: KubeRest = api): InformerFactory {
  const informers = new InformerFactory({ client });
  informers.start();
  return informers;
}

interface RunningProcess {
  whenSynced(): Promise<void>;
  /** Stops the controllers, then the informers. */
  stop(): Promise<void>;
}

/** The SKS reconciler of the test's namespace (which doubles as the system namespace) on the given factory. */
function startServerlessServices(ns: string, informers: InformerFactory, registry: Registry) {
  return startServerlessServiceController({ client: api, informers, namespace: ns, systemNamespace: ns, registry });
}

/** The SKS reconciler alone in its process, on a started informer factory of its own. */
export function startServerlessServiceProcess(ns: string): RunningProcess {
  const informers = startedInformers();
  const sks = startServerlessServices(ns, informers, new Registry());
  return {
    whenSynced: () => sks.whenSynced(),
    async stop() {
      await sks.stop();
      await informers.stop();
    },
  };
}

/**
 * The autoscaler process as autoscaler/main.ts wires it, synced: the SKS reconciler and the KPA on
 * one started informer factory, whose list and watch calls go through `informersClient`.
 */
export async function startAutoscalerProcess(
  ns: string,
  options: Omit<AutoscalerOptions, 'informers' | 'namespace'>,
  informersClient: KubeRest = api,
): Promise<{ autoscaler: RunningAutoscaler; stop(): Promise<void> }> {
  const informers = startedInformers(informersClient);
  const sks = startServerlessServices(ns, informers, options.registry);
  const autoscaler = await startAutoscaler({ ...options, informers, namespace: ns });
  await Promise.all([sks.whenSynced(), autoscaler.whenSynced()]);
  return {
    autoscaler,
    async stop() {
      await autoscaler.stop();
      await sks.stop();
      await informers.stop();
    },
  };
}

export interface RecordedCall {
  seq: number;
  method: string;
  path: string;
  body: unknown;
}

let sequence = 0;
/** A monotonically increasing number shared by recorded calls and test milestones. */
export const nextSeq = () => ++sequence;

/** Passes every call to api and keeps the ones that change something. */
export function recordingClient(calls: RecordedCall[]): KubeRest {
  return {
    request(method, path, options) {
      if (method !== 'GET') calls.push({ seq: nextSeq(), method, path, body: options?.body });
      return api.request(method, path, options);
    },
    watch: (path, options) => api.watch(path, options),
  };
}

export const deploymentPath = (ns: string, name = '') =>
  `/apis/apps/v1/namespaces/${ns}/deployments${name ? `/${name}` : ''}`;
export const paCollection = (ns: string) =>
  `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${ns}/podautoscalers`;

export async function createDeployment(ns: string, revision: string, replicas: number): Promise<string> {
  const name = `${revision}-deployment`;
  const labels = { 'serving.knative.dev/revision': revision };
  await api.request('POST', deploymentPath(ns), {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'user-container', image: 'example.invalid/app:1' }] },
        },
      },
    },
  });
  return name;
}

export async function createPodAutoscaler(
  ns: string,
  revision: string,
  annotations: Record<string, string>,
): Promise<Record<string, any>> {
  return api.request('POST', paCollection(ns), {
    body: {
      apiVersion: 'autoscaling.internal.knative.dev/v1alpha1',
      kind: 'PodAutoscaler',
      metadata: { name: revision, labels: { 'serving.knative.dev/revision': revision }, annotations },
      spec: {
        containerConcurrency: 0,
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `${revision}-deployment` },
        reachability: 'Reachable',
        protocolType: 'http1',
      },
    },
  });
}

export async function replicasOf(ns: string, deployment: string): Promise<number | undefined> {
  return (await api.request<{ spec?: { replicas?: number } }>('GET', deploymentPath(ns, deployment))).spec?.replicas;
}

export async function paStatus(ns: string, name: string): Promise<Record<string, any>> {
  return (await api.request<{ status?: Record<string, any> }>('GET', `${paCollection(ns)}/${name}`)).status ?? {};
}

export async function eventReasons(ns: string): Promise<string[]> {
  const events = await api.request<{ items: { reason?: string }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
  return events.items.map((e) => e.reason ?? '');
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
