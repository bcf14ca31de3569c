// A revision with a reserved burstable instance through a whole load cycle against the real API
// server: idle → reserved only → burst → standard pods → idle → reserved only, and no request
// lost or answered twice on the way. Real processes throughout: the reconcilers and the KPA in
// process (wall clock, short windows), the activator as `node activator/main.ts` with its
// Kubernetes source, and every pod a sample app behind a queue-proxy on loopback, started and
// stopped by a stand-in kubelet (kubelet.ts) as the Deployments' replicas change. The test is the
// client of the activator; each app names its pod in a response header (POD_NAME, see harness/sampleApp.ts).
import type { Revision } from '../../../lib/apis/serving.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StaticPodSource } from '../../../autoscaler/collector/podSource.ts';
import { realClock } from '../../../lib/clock.ts';
import { parseAutoscalerConfig } from '../../../lib/config/autoscaler.ts';
import {
  ReservedInstanceAnnotations,
  ReservedInstanceLabels,
  type InstanceMode,
} from '../../../lib/config/reservedInstance.ts';
import { EventRecorder } from '../../../lib/kube/events.ts';
import { Informer } from '../../../lib/kube/informer.ts';
import { track, waitForLine, type Proc } from '../../../harness/processes.ts';
import { apply, createNamespace, mustSucceed } from '../../support/kube.ts';
import {
  api,
  condition,
  deploymentsPath,
  get,
  getOrUndefined,
  ksvc,
  putConfigMap,
  QUEUE_IMAGE,
  serving,
  startInProcess,
  waitFor,
} from '../controllers/harness.ts';
import { startAutoscalerProcess } from '../autoscaler/support.ts';
import { POD_NAME_HEADER, POD_NETWORK_PREFIX } from './conventions.ts';
import { LoopbackKubelet } from './kubelet.ts';

const ACTIVATOR = fileURLToPath(new URL('../../../activator/main.ts', import.meta.url));
const POD_NETWORK_PRELOAD = new URL('./podNetwork.ts', import.meta.url).href;

const SERVICE = 'burst';
const REVISION = 'burst-00001';
/** The reserved instance takes this many requests at once; the burst is ten times that. */
const RESERVED_CONCURRENCY = 2;
const BURST_CLIENTS = 20;
/** Knative's shortest stable window and a short grace period, so a cycle takes seconds. */
const AUTOSCALER_CONFIG = {
  'stable-window': '6s',
  'panic-window-percentage': '50',
  'scale-to-zero-grace-period': '2s',
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Answer {
  id: number;
  path: string;
  status: number;
  pod: string;
  echoedPath: string;
}

/** The client side: numbered requests through the activator, each answer kept. */
class Client {
  readonly answers: Answer[] = [];
  readonly failures: { id: number; error: string }[] = [];
  sent = 0;
  readonly #agent = new Agent({ connections: BURST_CLIENTS + 5 });
  readonly #port: number;
  readonly #ns: string;

  constructor(activatorPort: number, ns: string) {
    this.#port = activatorPort;
    this.#ns = ns;
  }

  async send(sleepMs = 0): Promise<Answer | undefined> {
    const id = ++this.sent;
    const path = `/?id=${id}&sleep=${sleepMs}`;
    try {
      const res = await request(`http://127.0.0.1:${this.#port}${path}`, {
        dispatcher: this.#agent,
        headers: {
          host: `${SERVICE}.${this.#ns}.example.com`,
          'knative-serving-revision': REVISION,
          'knative-serving-namespace': this.#ns,
        },
        signal: AbortSignal.timeout(20_000),
      });
      const body = await res.body.text();
      const answer = {
        id,
        path,
        status: res.statusCode,
        pod: String(res.headers[POD_NAME_HEADER] ?? ''),
        echoedPath: res.statusCode === 200 ? (JSON.parse(body) as { path: string }).path : body,
      };
      this.answers.push(answer);
      return answer;
    } catch (error) {
      this.failures.push({ id, error: String(error) });
      return undefined;
    }
  }

  /** `clients` loops sending back to back until stopped; bounded in count and time. */
  burst(clients: number, sleepMs: number): () => Promise<Answer[]> {
    const stop = new AbortController();
    const deadline = AbortSignal.timeout(30_000);
    const from = this.answers.length;
    const loops = Array.from({ length: clients }, async () => {
      for (let i = 0; i < 200 && !stop.signal.aborted && !deadline.aborted; i++) await this.send(sleepMs);
    });
    return async () => {
      stop.abort();
      await Promise.all(loops);
      return this.answers.slice(from);
    };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

async function startActivator(statPort: number): Promise<Proc & { port: number; metricsPort: number }> {
  const proc = track(
    spawn(
      process.execPath,
      [
        '--import',
        POD_NETWORK_PRELOAD,
        ACTIVATOR,
        '--pod-source',
        'kubernetes',
        '--kubeconfig',
        inject('kubeconfig'),
        '--bind',
        '127.0.0.1',
        '--port',
        '0',
        '--h2c-port',
        '0',
        '--metrics-port',
        '0',
        '--name',
        'activator-0',
        '--drain-quiet-period',
        '100ms',
        '--stats-url',
        `http://127.0.0.1:${statPort}/stats`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const line = await waitForLine(proc, (l) => l.message === 'activator started', 30_000);
  return { ...proc, port: line.port as number, metricsPort: line.metricsPort as number };
}

/** The sum of a metric's samples that carry all the given labels, from a Prometheus endpoint. */
async function scrape(metricsPort: number, name: string, labels: Record<string, string>): Promise<number> {
  const res = await request(`http://127.0.0.1:${metricsPort}/metrics`);
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let sum = 0;
  for (const line of (await res.body.text()).split('\n')) {
    const match = /^([^{\s]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1] === name && wanted.every((pair) => match[2]!.split(',').includes(pair))) sum += Number(match[3]);
  }
  return sum;
}

/** The instance modes the revision's status went through, each change once, in order. */
function recordInstanceModes(ns: string): { modes: InstanceMode[]; stop(): Promise<void> } {
  const modes: InstanceMode[] = [];
  const informer = new Informer<Revision>({
    client: api,
    path: serving(ns, 'revisions'),
    fieldSelector: `metadata.name=${REVISION}`,
  });
  const seen = (revision: Revision) => {
    const mode = revision.status?.annotations?.[ReservedInstanceAnnotations.instanceMode] as InstanceMode | undefined;
    if (mode !== undefined && mode !== modes.at(-1)) modes.push(mode);
  };
  informer.addHandlers({ onAdd: seen, onUpdate: (_previous, current) => seen(current) });
  informer.start();
  return { modes, stop: () => informer.stop() };
}

const replicas = async (ns: string, name: string) => (await get(deploymentsPath(ns, name))).spec.replicas as number;
const instanceMode = async (ns: string) =>
  (await get(serving(ns, 'revisions', REVISION))).status?.annotations?.[ReservedInstanceAnnotations.instanceMode];

describe('reserved instance through a load cycle', () => {
  it('serves idle → reserved only → burst → standard pods → idle → reserved only without losing a request', async () => {
    const ns = await createNamespace('reserved-cycle');
    await putConfigMap(ns, 'config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
    await putConfigMap(ns, 'config-autoscaler', AUTOSCALER_CONFIG);
    const reconcilers = await startInProcess(ns);
    cleanups.push(() => reconcilers.stop());

    const podSource = new StaticPodSource();
    const config = parseAutoscalerConfig(AUTOSCALER_CONFIG);
    const { autoscaler, stop } = await startAutoscalerProcess(ns, {
      client: api,
      pods: podSource,
      clock: realClock,
      registry: new Registry(),
      config: () => config,
      recorder: new EventRecorder({ client: api, component: 'autoscaler' }),
      statPort: 0,
      statHost: '127.0.0.1',
    });
    cleanups.push(stop);

    const kubelet = new LoopbackKubelet({
      api,
      namespace: ns,
      revision: REVISION,
      podSource,
      // As the autoscaler's pod informer does: pods coming and going move actualScale.
      standardPodsChanged: () => autoscaler.controller.enqueue(`${ns}/${REVISION}`),
    }).start();
    cleanups.push(() => kubelet.stop());
    const activator = await startActivator(autoscaler.statPort!);
    cleanups.push(() => activator.stop());
    // The activator's own Endpoints, which tell the ServerlessService that it can be put in the path.
    await api.request('POST', `/api/v1/namespaces/${ns}/endpoints`, {
      body: {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'activator-service' },
        subsets: [{ addresses: [{ ip: `${POD_NETWORK_PREFIX}250` }], ports: [{ name: 'http', port: activator.port }] }],
      },
    });
    const history = recordInstanceModes(ns);
    cleanups.push(() => history.stop());
    const client = new Client(activator.port, ns);
    cleanups.push(() => client.close());

    const svc = ksvc(SERVICE, 'dev.local/burst:1');
    svc.spec.template.metadata = {
      annotations: {
        [ReservedInstanceAnnotations.mode]: 'enabled',
        [ReservedInstanceAnnotations.containerConcurrency]: String(RESERVED_CONCURRENCY),
        'autoscaling.knative.dev/target': '5',
        'autoscaling.knative.dev/max-scale': '2',
      },
    };
    svc.spec.template.spec.containerConcurrency = 10;
    await mustSucceed(apply(ns, svc));

    // The revision starts with one standard pod; without traffic it goes down to its reserved
    // instance: the two Deployments, the standard one at zero and the reserved one running its pod.
    const revision = await waitFor(
      'the reserved instance to be ready',
      () => getOrUndefined(serving(ns, 'revisions', REVISION)),
      (r) => condition(r, 'ReservedInstanceReady')?.status === 'True',
    );
    await waitFor(
      'the standard Deployment at zero',
      () => replicas(ns, `${REVISION}-deployment`),
      (n) => n === 0,
      40_000,
    );
    await waitFor(
      'the standard pods gone',
      async () => kubelet.pods('standard').length,
      (n) => n === 0,
    );
    await waitFor(
      'reserved-only',
      async () => history.modes.at(-1),
      (mode) => mode === 'reserved-only',
    );
    const idleFrom = history.modes.length - 1;
    const reservedDeployment = await get(deploymentsPath(ns, `${REVISION}-reserved`));
    expect(reservedDeployment.spec.selector.matchLabels).toEqual({
      [ReservedInstanceLabels.revisionUID]: revision.metadata.uid,
    });
    expect(reservedDeployment.spec.replicas).toBe(1);
    expect(kubelet.pods('reserved').filter((p) => p.ready)).toHaveLength(1);
    const reservedPod = kubelet.pods('reserved')[0]!.name;

    // The first requests find no standard pod: the reserved instance answers them.
    for (let i = 0; i < 3; i++) expect(await client.send()).toMatchObject({ status: 200, pod: reservedPod });

    // A burst: ten times what the reserved instance takes. Standard pods come, the mode follows.
    const stopBurst = client.burst(BURST_CLIENTS, 200);
    const revisionLabels = { k8s_namespace_name: ns, kn_revision_name: REVISION };
    await waitFor(
      'the activator to hold what the reserved instance cannot take',
      () => scrape(activator.metricsPort, 'kn_revision_request_queued', revisionLabels),
      (held) => held >= BURST_CLIENTS / 2,
    );
    await waitFor(
      'standard pods to serve the revision',
      () => instanceMode(ns),
      (mode) => mode === 'standard',
      30_000,
    );
    expect(await replicas(ns, `${REVISION}-deployment`)).toBeGreaterThanOrEqual(1);
    // Long enough for new requests to have moved to the standard pods.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const burst = await stopBurst();
    expect(burst.filter((a) => a.pod === reservedPod).length).toBeGreaterThan(0);
    expect(burst.filter((a) => a.pod !== reservedPod).length).toBeGreaterThan(0);
    const standardPods = new Set(kubelet.pods('standard').map((p) => p.name));
    expect(standardPods.size).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) {
      const answer = await client.send();
      expect(answer?.status).toBe(200);
      expect(standardPods).toContain(answer?.pod);
    }
    expect(history.modes.slice(idleFrom)).toEqual(['reserved-only', 'scaling-from-reserved', 'standard']);

    // Idle again: the standard pods go, the reserved one stays.
    await waitFor(
      'the standard Deployment back at zero',
      () => replicas(ns, `${REVISION}-deployment`),
      (n) => n === 0,
      40_000,
    );
    await waitFor(
      'the standard pods gone',
      async () => kubelet.pods('standard').length,
      (n) => n === 0,
    );
    await waitFor(
      'reserved-only again',
      async () => history.modes.at(-1),
      (mode) => mode === 'reserved-only',
    );
    expect(await replicas(ns, `${REVISION}-reserved`)).toBe(1);
    expect(kubelet.pods('reserved').map((p) => p.name)).toEqual([reservedPod]);
    expect(history.modes.slice(idleFrom)).toEqual([
      'reserved-only',
      'scaling-from-reserved',
      'standard',
      'reserved-only',
    ]);

    expect(await client.send()).toMatchObject({ status: 200, pod: reservedPod });

    // Every request answered once, by the app it names, and counted there.
    expect(client.failures).toEqual([]);
    expect(client.answers).toHaveLength(client.sent);
    expect(client.answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(client.answers.filter((a) => a.echoedPath !== a.path)).toEqual([]);
    expect(new Set(client.answers.map((a) => a.id)).size).toBe(client.sent);
    const counts = await kubelet.appCounts();
    const answeredBy = new Map<string, number>();
    for (const a of client.answers) answeredBy.set(a.pod, (answeredBy.get(a.pod) ?? 0) + 1);
    expect(Object.fromEntries([...counts].map(([pod, c]) => [pod, c.requests]).filter(([, n]) => n !== 0))).toEqual(
      Object.fromEntries(answeredBy),
    );
    // The reserved instance never took more than its containerConcurrency.
    expect(counts.get(reservedPod)!.maxInFlight).toBeLessThanOrEqual(RESERVED_CONCURRENCY);
    // The activator's side of the cycle: new requests moved to standard pods and back.
    const changes = (from: string, to: string) =>
      scrape(activator.metricsPort, 'pilotlight_activator_serving_mode_changes_total', { ...revisionLabels, from, to });
    expect(await changes('reserved', 'standard')).toBeGreaterThanOrEqual(1);
    expect(await changes('standard', 'reserved')).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
