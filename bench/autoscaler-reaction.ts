// How fast the KPA reacts, measured on real processes and sockets: a real kube-apiserver and
// etcd, the autoscaler runtime (collector, decider ticks, PodAutoscaler and ServerlessService
// reconcilers, stat endpoint) in this process on the real clock, and two real queue-proxy
// processes in front of sample apps as the revision's pods.
//   (a) step: from the first request of a step in load on the queue-proxies to the decision
//       that changes the desired pods, and to the PATCH of the Deployment's /scale. The load
//       reaches the decider the way it does in Knative: queue-proxy averages over its 1 s
//       reporting period, the collector scrapes every second, the decider ticks every 2 s, and
//       a scrape that starts a panic is decided on at once (RevisionScaler.surge).
//   (b) poke: from an activator's first stat push (POST /stats) for a revision at zero to the
//       PATCH that scales it to one.
// Run: node bench/autoscaler-reaction.ts [--samples 12]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { Pool } from 'undici';
import { fetchQueueProxyStat } from '../autoscaler/collector/collector.ts';
import { StaticPodSource } from '../autoscaler/collector/podSource.ts';
import { startAutoscaler, type RunningAutoscaler } from '../autoscaler/runtime.ts';
import { TICK_INTERVAL_MS } from '../autoscaler/scaling/decider.ts';
import { startServerlessServiceController } from '../autoscaler/serverlessservice/controller.ts';
import { ensureBinaries } from '../cli/cluster/binaries.ts';
import { startControlPlane, stopControlPlane } from '../cli/cluster/controlPlane.ts';
import { applyCrds } from '../cli/cluster/operator.ts';
import { realClock } from '../lib/clock.ts';
import { parseAutoscalerConfig } from '../lib/config/autoscaler.ts';
import { InformerFactory } from '../lib/kube/informerFactory.ts';
import { createKubeRest, type KubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { startQueueProxy, startSampleApp, type Proc } from '../harness/processes.ts';
import { longInactiveStatus } from '../harness/podAutoscalerStatus.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '12' } } });
const SAMPLES = Number(values.samples);
const NAMESPACE = 'bench';
const PODS = 2;
/** Per-pod target 10 concurrent requests; the baseline wants one pod, the step several. */
const TARGET = 10;
const BASELINE_PER_POD = 2;
const STEP_PER_POD = 30;
const REQUEST_SLEEP_MS = 400;
const TARGET_POKE_MS = 50;
const SAMPLE_TIMEOUT_MS = 30_000;
const BENCH_DEADLINE = AbortSignal.timeout(20 * 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))]!;
const summary = (values: number[]) => ({
  p50: percentile(values, 0.5),
  p90: percentile(values, 0.9),
  max: Math.max(...values),
});

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = SAMPLE_TIMEOUT_MS,
  everyMs = 1,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && !BENCH_DEADLINE.aborted) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

/** Scale PATCHes as the API server is asked for them, stamped on the monotonic clock. */
interface ScaleCall {
  atMs: number;
  path: string;
  replicas: number;
}

function recordingScaleCalls(api: KubeRest, calls: ScaleCall[]): KubeRest {
  return {
    request(method, path, options) {
      if (method === 'PATCH' && path.endsWith('/scale')) {
        const op = (options?.body as { value: number }[] | undefined)?.[0];
        calls.push({ atMs: performance.now(), path, replicas: op!.value });
      }
      return api.request(method, path, options);
    },
    watch: (path, options) => api.watch(path, options),
  };
}

/** `perPod` requests held in flight on each queue-proxy until stopped; bounded in count and time. */
function holdLoad(pools: Pool[], perPod: number): () => Promise<void> {
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, BENCH_DEADLINE]);
  const workers = pools.flatMap((pool) =>
    Array.from({ length: perPod }, async () => {
      for (let i = 0; i < 5000 && !signal.aborted; i++) {
        try {
          const res = await pool.request({ path: `/?sleep=${REQUEST_SLEEP_MS}`, method: 'GET', signal });
          await res.body.dump();
        } catch {
          // Aborted on stop.
        }
      }
    }),
  );
  return async () => {
    stop.abort();
    await Promise.all(workers);
  };
}

async function createRevisionObjects(
  api: KubeRest,
  revision: string,
  replicas: number,
  annotations: Record<string, string>,
) {
  const labels = { 'serving.knative.dev/revision': revision };
  await api.request('POST', `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${revision}-deployment`, labels },
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
  return api.request<Record<string, unknown>>(
    'POST',
    `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${NAMESPACE}/podautoscalers`,
    {
      body: {
        apiVersion: 'autoscaling.internal.knative.dev/v1alpha1',
        kind: 'PodAutoscaler',
        metadata: { name: revision, labels, annotations },
        spec: {
          containerConcurrency: 0,
          reachability: 'Reachable',
          protocolType: 'http1',
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `${revision}-deployment` },
        },
      },
    },
  );
}

interface StepSample {
  /** Step to the first scrape whose report shows it. */
  seenMs: number;
  /** Step to the decision that changed the desired pods. */
  decisionMs: number;
  /** Step to the PATCH of /scale with the new count. */
  patchMs: number;
  /** From the first scrape that showed any of the step to the decision. */
  afterSeenMs: number;
  from: number;
  to: number;
}

interface PokeSample {
  /** Push sent to the 202 answer; the decision is made before the answer. */
  answeredMs: number;
  /** Push sent to the PATCH of /scale leaving this process. */
  patchMs: number;
}

const loadAverageBefore = loadavg()[0]!;
const stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-bench-as-'));
const binDir = await ensureBinaries(['kube-apiserver', 'etcd', 'kubectl']);
const controlPlane = await startControlPlane({ stateDir, ephemeral: true });
const procs: Proc[] = [];
const pools: Pool[] = [];
const stoppers: (() => Promise<unknown>)[] = [];
try {
  await applyCrds({ binary: join(binDir, 'kubectl'), kubeconfig: controlPlane.kubeconfig });
  const api = createKubeRest(loadKubeConnection(controlPlane.kubeconfig));
  await api.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  });

  const scaleCalls: ScaleCall[] = [];
  /** Every scrape of a queue-proxy, when it answered and the concurrency it reported. */
  const scrapes: { atMs: number; concurrency: number }[] = [];
  const pods = new StaticPodSource();
  const registry = new Registry();
  const config = parseAutoscalerConfig(undefined);
  // The autoscaler process: the SKS reconciler and the KPA on one informer factory.
  const informers = new InformerFactory({ client: api });
  informers.start();
  stoppers.push(() => informers.stop());
  const sks = startServerlessServiceController({
    client: api,
    informers,
    namespace: NAMESPACE,
    systemNamespace: NAMESPACE,
    registry,
  });
  stoppers.push(() => sks.stop());
  const autoscaler: RunningAutoscaler = await startAutoscaler({
    client: recordingScaleCalls(api, scaleCalls),
    informers,
    namespace: NAMESPACE,
    pods,
    clock: realClock,
    registry,
    config: () => config,
    statPort: 0,
    statHost: '127.0.0.1',
    fetchStat: async (pod) => {
      const stat = await fetchQueueProxyStat(pod);
      scrapes.push({ atMs: performance.now(), concurrency: stat.averageConcurrentRequests });
      return stat;
    },
  });
  stoppers.push(() => autoscaler.stop());
  await Promise.all([sks.whenSynced(), autoscaler.whenSynced()]);

  // (a) A step in load on real queue-proxies.
  const loaded = 'loaded-00001';
  for (let i = 0; i < PODS; i++) {
    const app = await startSampleApp();
    procs.push(app);
    const proxy = await startQueueProxy(app.port);
    procs.push(proxy);
    pools.push(new Pool(`http://127.0.0.1:${proxy.servingPort}`, { connections: STEP_PER_POD + BASELINE_PER_POD }));
    pods.set(NAMESPACE, loaded, [
      ...pods.readyPods(NAMESPACE, loaded),
      {
        name: `${loaded}-pod-${i}`,
        ip: '127.0.0.1',
        port: proxy.autoscalerMetricsPort,
        startedAtMs: 0,
      },
    ]);
  }
  // The shortest stable window Knative allows, so that a step's panic passes in seconds; a 3 s
  // panic window, as a 1 s one would hold only the scrape of the current second.
  await createRevisionObjects(api, loaded, PODS, {
    'autoscaling.knative.dev/target': String(TARGET),
    'autoscaling.knative.dev/target-utilization-percentage': '100',
    'autoscaling.knative.dev/window': '6s',
    'autoscaling.knative.dev/panic-window-percentage': '50',
  });
  const loadedKey = `${NAMESPACE}/${loaded}`;
  const stopBaseline = holdLoad(pools, BASELINE_PER_POD);
  stoppers.push(stopBaseline);
  const baselinePods = Math.ceil((PODS * BASELINE_PER_POD) / TARGET);
  const stepSamples: StepSample[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    await until(
      'desired pods back at the baseline',
      () => (autoscaler.scalers.status(loadedKey)?.desiredScale === baselinePods ? true : undefined),
      60_000,
      50,
    );
    // Let the baseline settle, then start the step at a random phase of the scrape and tick.
    await sleep(3000 + Math.random() * TICK_INTERVAL_MS);
    const from = autoscaler.scalers.status(loadedKey)!.desiredScale;
    const stepAt = performance.now();
    const stopStep = holdLoad(pools, STEP_PER_POD);
    const decidedAt = await until('the decision after the step', () => {
      const desired = autoscaler.scalers.status(loadedKey)?.desiredScale ?? from;
      return desired > from ? performance.now() : undefined;
    });
    const to = autoscaler.scalers.status(loadedKey)!.desiredScale;
    const patch = await until('the PATCH of /scale after the step', () =>
      scaleCalls.find((c) => c.atMs >= stepAt && c.path.includes(loaded) && c.replicas > from),
    );
    const seen = scrapes.find((s) => s.atMs >= stepAt && s.concurrency > BASELINE_PER_POD * 2);
    await stopStep();
    if (!seen) throw new Error('no scrape showed the step before the decision');
    const sample: StepSample = {
      seenMs: seen.atMs - stepAt,
      decisionMs: decidedAt - stepAt,
      patchMs: patch.atMs - stepAt,
      afterSeenMs: decidedAt - seen.atMs,
      from,
      to,
    };
    stepSamples.push(sample);
    console.log(
      `step ${i + 1}/${SAMPLES}: ${from} → ${to} pods, scrape saw it at ${sample.seenMs.toFixed(0)} ms, decision ${sample.decisionMs.toFixed(0)} ms, PATCH ${sample.patchMs.toFixed(0)} ms`,
    );
  }
  await stopBaseline();

  // (b) The first request at zero: an activator's immediate push.
  const pokeSamples: PokeSample[] = [];
  // Sample 0 warms the path (first reconcile of its kind, first PATCH) and is not counted.
  for (let i = 0; i <= SAMPLES; i++) {
    const revision = `idle-${String(i).padStart(5, '0')}`;
    const key = `${NAMESPACE}/${revision}`;
    // Burst capacity −1 keeps the activator in the path: nobody scrapes and silence is no load.
    await createRevisionObjects(api, revision, 0, { 'autoscaling.knative.dev/target-burst-capacity': '-1' });
    // Inactive for an hour, as a revision long at zero is; the autoscaler writes the status too.
    const paPath = `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${NAMESPACE}/podautoscalers/${revision}`;
    await until(
      'the PA marked inactive',
      async () => {
        const pa = await api.request<Record<string, unknown>>('GET', paPath);
        return api.request('PUT', `${paPath}/status`, { body: { ...pa, status: longInactiveStatus(Date.now()) } }).then(
          () => true,
          (error: { code?: number }) => {
            if (error.code !== 409) throw error;
            return undefined;
          },
        );
      },
      10_000,
      50,
    );
    await until(
      'the decider to decide zero',
      () => (autoscaler.scalers.status(key)?.desiredScale === 0 ? true : undefined),
      10_000,
      20,
    );
    // Off the tick's phase, and with the reconciles of the zero decision done.
    await sleep(300 + Math.random() * 500);
    const pushedAt = performance.now();
    const response = await fetch(`http://127.0.0.1:${autoscaler.statPort}/stats`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          namespace: NAMESPACE,
          revision,
          stat: { podName: 'activator-0', averageConcurrentRequests: 1, requestCount: 1 },
        },
      ]),
    });
    const answeredAt = performance.now();
    if (response.status !== 202) throw new Error(`stat push answered ${response.status}`);
    await response.body?.cancel();
    const patch = await until(
      'the PATCH to one',
      () => scaleCalls.find((c) => c.atMs >= pushedAt && c.path.includes(revision) && c.replicas >= 1),
      10_000,
    );
    const sample: PokeSample = { answeredMs: answeredAt - pushedAt, patchMs: patch.atMs - pushedAt };
    if (i > 0) pokeSamples.push(sample);
    console.log(
      `poke ${i === 0 ? 'warm-up' : `${i}/${SAMPLES}`}: answered ${sample.answeredMs.toFixed(1)} ms, PATCH ${sample.patchMs.toFixed(1)} ms`,
    );
    await api.request('DELETE', paPath);
  }

  const step = {
    seenMs: summary(stepSamples.map((s) => s.seenMs)),
    decisionMs: summary(stepSamples.map((s) => s.decisionMs)),
    patchMs: summary(stepSamples.map((s) => s.patchMs)),
    afterSeenMs: summary(stepSamples.map((s) => s.afterSeenMs)),
  };
  const poke = {
    answeredMs: summary(pokeSamples.map((s) => s.answeredMs)),
    patchMs: summary(pokeSamples.map((s) => s.patchMs)),
  };
  const results = {
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      loadAverageBefore,
      loadAverageAfter: loadavg()[0]!,
    },
    method: {
      samples: SAMPLES,
      step: `${PODS} queue-proxy processes (reporting period 1 s), ${PODS * BASELINE_PER_POD} → ${PODS * (BASELINE_PER_POD + STEP_PER_POD)} requests in flight, target ${TARGET} per pod, window 6 s, panic window 3 s; scrapes every 1 s, ticks every ${TICK_INTERVAL_MS} ms on the real clock`,
      poke: 'fresh revision per sample, Deployment at 0, PA Inactive, target-burst-capacity −1, one POST /stats with concurrency 1',
    },
    step,
    poke,
    stepSamples,
    pokeSamples,
    targets: {
      stepDecisionWithinOneTick: {
        targetMs: TICK_INTERVAL_MS,
        p50Ms: step.decisionMs.p50,
        maxMs: step.decisionMs.max,
        met: step.decisionMs.max <= TICK_INTERVAL_MS,
      },
      pokeToPatch: { targetMs: TARGET_POKE_MS, maxMs: poke.patchMs.max, met: poke.patchMs.max <= TARGET_POKE_MS },
    },
  };

  const f = (n: number, digits = 0) => n.toFixed(digits);
  const ticks = (ms: number) => (ms / TICK_INTERVAL_MS).toFixed(2);
  const row = (name: string, s: { p50: number; p90: number; max: number }, digits = 0) =>
    `| ${name} | ${f(s.p50, digits)} | ${f(s.p90, digits)} | ${f(s.max, digits)} | ${ticks(s.p50)} / ${ticks(s.p90)} / ${ticks(s.max)} |`;
  const table = [
    `| ${SAMPLES} samples each | p50 ms | p90 ms | max ms | ticks (p50 / p90 / max) |`,
    '|---|---:|---:|---:|---:|',
    row('(a) step → first scrape showing it', step.seenMs),
    row('(a) step → decision changing desired pods', step.decisionMs),
    row('(a) step → PATCH /scale', step.patchMs),
    row('(a) first scrape showing any of the step → decision', step.afterSeenMs),
    row('(b) first push at zero → 202 (decided)', poke.answeredMs, 1),
    row('(b) first push at zero → PATCH /scale', poke.patchMs, 1),
    '',
    'The first scrape showing a step holds a partial average: the queue-proxy averages over its reporting period, in which the step began part-way.',
    `Step: ${results.method.step}; desired pods ${stepSamples.map((s) => `${s.from}→${s.to}`).join(', ')}. Poke: ${results.method.poke}.`,
    `Autoscaler runtime in-process with the load generator; kube-apiserver and etcd, queue-proxies and apps as separate processes. ${availableParallelism()} CPUs, Node ${process.version}, 1-min load average ${f(loadAverageBefore, 2)} before, ${f(results.machine.loadAverageAfter, 2)} after.`,
    `Targets: step → decision within one tick (${TICK_INTERVAL_MS} ms): ${results.targets.stepDecisionWithinOneTick.met ? 'met' : 'NOT met'} at max (p50 ${f(step.decisionMs.p50)} ms, max ${f(step.decisionMs.max)} ms); poke → PATCH ≤ ${TARGET_POKE_MS} ms: ${results.targets.pokeToPatch.met ? 'met' : 'NOT met'} (max ${f(poke.patchMs.max, 1)} ms).`,
  ].join('\n');

  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('autoscaler-reaction.json', dir), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('autoscaler-reaction.md', dir), `# autoscaler reaction benchmark\n\n${table}\n`);
  console.log(table);
} finally {
  for (const stop of stoppers.reverse()) await stop().catch(() => {});
  await Promise.all(pools.map((pool) => pool.close()));
  await Promise.all(procs.map((p) => p.stop()));
  await stopControlPlane(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
}
