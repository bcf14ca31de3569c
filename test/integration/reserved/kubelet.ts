// Plays the kubelet and the endpoints controller for one revision, with real processes: each
// replica of its standard Deployment (`<rev>-deployment`) and of its reserved one
// (`<rev>-reserved`) is a sample app behind a queue-proxy on loopback. Pods are listed, as the
// endpoints controller would, in the Endpoints named after the Service that selects them
// (`<rev>-private`, `<rev>-reserved`), with that Service's labels and ports; not ready until
// queue-proxy answers the kubelet's readiness probe. The Deployments' status follows the pods,
// and the standard pods are what the autoscaler scrapes.
import type { V1Deployment, CoreV1EndpointPort, V1EndpointSubset, V1Service } from '@kubernetes/client-node';
import { request } from 'undici';
import type { StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import { QueuePorts } from '../../../lib/hop.ts';
import { isNotFound } from '../../../lib/kube/errors.ts';
import type { KubeRest } from '../../../lib/kube/rest.ts';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { PollingLoop } from '../../../harness/pollingLoop.ts';
import { POD_NETWORK_PREFIX } from './conventions.ts';

/** What the revision's queue-proxy container gets from its pod template; the rest is loopback's. */
const ENV_FROM_TEMPLATE = [
  'SERVING_NAMESPACE',
  'SERVING_SERVICE',
  'SERVING_CONFIGURATION',
  'SERVING_REVISION',
  'CONTAINER_CONCURRENCY',
  'REVISION_TIMEOUT_SECONDS',
];
const LOOP_INTERVAL_MS = 100;

export interface LoopbackPod {
  name: string;
  /** Its address in Endpoints; connections to it reach 127.0.0.1 (see podNetwork.ts). */
  ip: string;
  app: SampleApp;
  queueProxy: QueueProxyProc;
  startedAtMs: number;
  ready: boolean;
}

/** What one app saw over its life: requests answered and the most it had at once. */
export interface AppCounts {
  requests: number;
  maxInFlight: number;
}

interface Workload {
  deployment: string;
  /** The Service whose Endpoints list these pods. */
  service: string;
  /** Standard pods are the autoscaler's to scrape; the reserved one is not. */
  standard: boolean;
  pods: LoopbackPod[];
  /** Pods changed since the Endpoints were last written. */
  unpublished: boolean;
}

export interface LoopbackKubeletOptions {
  api: KubeRest;
  namespace: string;
  revision: string;
  /** The autoscaler's view of the standard pods, kept in step with them. */
  podSource: StaticPodSource;
  /** Told when the standard pods changed, as a pod informer would tell the autoscaler. */
  standardPodsChanged: () => void;
}

export class LoopbackKubelet {
  readonly #options: LoopbackKubeletOptions;
  readonly #workloads: Workload[];
  /** Counts of apps already stopped, by pod name. */
  readonly #finished = new Map<string, AppCounts>();
  /** Pods on their way out: draining, then their counts read, then stopped. */
  readonly #stopping = new Set<Promise<void>>();
  #podNumber = 0;
  readonly #loop = new PollingLoop('loopback kubelet', LOOP_INTERVAL_MS, async () => {
    for (const workload of this.#workloads) await this.#sync(workload);
  });

  constructor(options: LoopbackKubeletOptions) {
    this.#options = options;
    const { revision } = options;
    this.#workloads = [
      {
        deployment: `${revision}-deployment`,
        service: `${revision}-private`,
        standard: true,
        pods: [],
        unpublished: true,
      },
      {
        deployment: `${revision}-reserved`,
        service: `${revision}-reserved`,
        standard: false,
        pods: [],
        unpublished: true,
      },
    ];
  }

  start(): this {
    this.#loop.start();
    return this;
  }

  /** Stops following the Deployments and stops every pod. */
  async stop(): Promise<void> {
    try {
      await this.#loop.stop();
    } finally {
      await Promise.all(this.#workloads.flatMap((w) => w.pods.splice(0).map((pod) => this.#stopPod(pod))));
    }
  }

  /** The running pods of a Deployment, oldest first. */
  pods(deployment: 'standard' | 'reserved'): readonly LoopbackPod[] {
    return this.#workloads.find((w) => w.standard === (deployment === 'standard'))!.pods;
  }

  /** Every app's counts by pod name, those stopped or stopping included. */
  async appCounts(): Promise<Map<string, AppCounts>> {
    await Promise.all(this.#stopping);
    const counts = new Map(this.#finished);
    for (const pod of this.#workloads.flatMap((w) => w.pods)) counts.set(pod.name, await readAppCounts(pod.app));
    return counts;
  }

  async #sync(workload: Workload): Promise<void> {
    const { api, namespace } = this.#options;
    const deployment = await getOrUndefined<V1Deployment>(
      api,
      `/apis/apps/v1/namespaces/${namespace}/deployments/${workload.deployment}`,
    );
    if (deployment === undefined) return;
    const replicas = deployment.spec?.replicas ?? 1;
    // Leaving pods drop out of the Endpoints first and drain after, as terminating pods do.
    const leaving = workload.pods.splice(replicas);
    const starting = Math.max(0, replicas - workload.pods.length);
    if (starting > 0)
      workload.pods.push(
        ...(await Promise.all(Array.from({ length: starting }, () => this.#startPod(workload, deployment)))),
      );
    for (const pod of workload.pods) {
      if (pod.ready || !(await passesReadinessProbe(pod))) continue;
      pod.ready = true;
      workload.unpublished = true;
    }
    if (leaving.length > 0 || starting > 0) workload.unpublished = true;
    if (workload.unpublished) await this.#publish(workload);
    await this.#writeDeploymentStatus(workload, deployment);
    await Promise.all(leaving.map((pod) => this.#stopPod(pod)));
  }

  async #startPod(workload: Workload, deployment: V1Deployment): Promise<LoopbackPod> {
    const number = ++this.#podNumber;
    const name = `${workload.deployment}-${number.toString(36).padStart(5, '0')}`;
    const ip = `${POD_NETWORK_PREFIX}${number}`;
    const queueContainer = deployment.spec?.template.spec?.containers.find((c) => c.name === 'queue-proxy');
    const templateEnv = Object.fromEntries(
      (queueContainer?.env ?? [])
        .filter((e) => ENV_FROM_TEMPLATE.includes(e.name) && e.value !== undefined)
        .map((e) => [e.name, e.value!]),
    );
    const app = await startSampleApp({ POD_NAME: name });
    const queueProxy = await startQueueProxy(app.port, {
      ...templateEnv,
      SERVING_POD: name,
      SERVING_POD_IP: ip,
      // Time for the activator to see the pod leave its Endpoints before it stops accepting.
      QUEUE_DRAIN_QUIET_PERIOD: '1s',
    });
    return { name, ip, app, queueProxy, startedAtMs: Date.now(), ready: false };
  }

  #stopPod(pod: LoopbackPod): Promise<void> {
    const stopping = (async () => {
      await pod.queueProxy.stop();
      // Drained: the app has answered everything it will ever answer.
      this.#finished.set(pod.name, await readAppCounts(pod.app));
      await pod.app.stop();
    })();
    this.#stopping.add(stopping);
    return stopping.finally(() => this.#stopping.delete(stopping));
  }

  /** Endpoints as the endpoints controller writes them, and the autoscaler's view of the pods. */
  async #publish(workload: Workload): Promise<void> {
    const { api, namespace, revision } = this.#options;
    const service = await getOrUndefined<V1Service>(
      api,
      `/api/v1/namespaces/${namespace}/services/${workload.service}`,
    );
    if (service === undefined) return;
    const endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: workload.service, namespace, labels: service.metadata?.labels ?? {} },
      subsets: workload.pods.map((pod): V1EndpointSubset => {
        const address = [{ ip: pod.ip, targetRef: { kind: 'Pod', namespace, name: pod.name } }];
        return {
          [pod.ready ? 'addresses' : 'notReadyAddresses']: address,
          ports: endpointPorts(service, pod.queueProxy),
        };
      }),
    };
    const path = `/api/v1/namespaces/${namespace}/endpoints`;
    try {
      await api.request('PUT', `${path}/${workload.service}`, { body: endpoints });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await api.request('POST', path, { body: endpoints });
    }
    workload.unpublished = false;
    if (!workload.standard) return;
    const ready = workload.pods.filter((p) => p.ready);
    this.#options.podSource.set(
      namespace,
      revision,
      ready.map((p) => ({
        name: p.name,
        ip: '127.0.0.1',
        port: p.queueProxy.autoscalerMetricsPort,
        startedAtMs: p.startedAtMs,
      })),
      { notReady: workload.pods.length - ready.length, pending: 0, terminating: 0 },
    );
    this.#options.standardPodsChanged();
  }

  async #writeDeploymentStatus(workload: Workload, deployment: V1Deployment): Promise<void> {
    const replicas = workload.pods.length;
    const readyReplicas = workload.pods.filter((p) => p.ready).length;
    const status = deployment.status;
    if (
      status?.observedGeneration === deployment.metadata?.generation &&
      (status?.replicas ?? 0) === replicas &&
      (status?.readyReplicas ?? 0) === readyReplicas
    )
      return;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const available = readyReplicas >= (deployment.spec?.replicas ?? 1);
    try {
      await this.#options.api.request(
        'PUT',
        `/apis/apps/v1/namespaces/${this.#options.namespace}/deployments/${workload.deployment}/status`,
        {
          body: {
            ...deployment,
            status: {
              observedGeneration: deployment.metadata?.generation,
              replicas,
              updatedReplicas: replicas,
              readyReplicas,
              availableReplicas: readyReplicas,
              conditions: [
                {
                  type: 'Available',
                  status: available ? 'True' : 'False',
                  reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
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
            },
          },
        },
      );
    } catch (error) {
      // Raced with a spec change (409): the next pass reads the new generation.
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
}

/**
 * Each Service port at the pod's loopback port for the container port it targets, by number or
 * by name; ports nothing listens on here (TLS) are left out.
 */
function endpointPorts(service: V1Service, queueProxy: QueueProxyProc): CoreV1EndpointPort[] {
  const byContainerPort = new Map<number | string, number>([
    [QueuePorts.http1, queueProxy.servingPort],
    [QueuePorts.autoscalerMetrics, queueProxy.autoscalerMetricsPort],
    ['http-autometric', queueProxy.autoscalerMetricsPort],
    [QueuePorts.userMetrics, queueProxy.userMetricsPort],
    ['http-usermetric', queueProxy.userMetricsPort],
  ]);
  return (service.spec?.ports ?? []).flatMap((p) => {
    const port = byContainerPort.get((p.targetPort ?? p.port) as number | string);
    return port === undefined ? [] : [{ name: p.name, port, protocol: p.protocol ?? 'TCP' }];
  });
}

/** The kubelet's readiness probe of queue-proxy, as the revision's pod template declares it. */
async function passesReadinessProbe(pod: LoopbackPod): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${pod.queueProxy.servingPort}/`, {
      headers: { 'k-network-probe': 'queue', 'user-agent': 'kube-probe/1.35' },
      signal: AbortSignal.timeout(1000),
    });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

async function readAppCounts(app: SampleApp): Promise<AppCounts> {
  const res = await request(`http://127.0.0.1:${app.port}/_stats`);
  const { requests, maxInFlight } = (await res.body.json()) as AppCounts;
  return { requests, maxInFlight };
}

async function getOrUndefined<T>(api: KubeRest, path: string): Promise<T | undefined> {
  try {
    return await api.request<T>('GET', path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
