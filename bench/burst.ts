// A burst from zero on the local cluster, in the shape of upstream's load test: k6 ramps the
// arrival rate 0 → 1k → 2k → 3k req/s in steps against the autoscale sample (concurrency target 10
// per pod, at most 5 pods; each request holds 100 ms) once it has scaled to zero, through the
// gateway's NodePort. Reports errors, p95 and max latency per step and per second,
// and the Deployment's desired and ready replicas every second.
// Needs root; brings the cluster up and down itself. Run it through `npm run bench -- burst`,
// which holds /tmp/pilotlight-cluster.lock so no other user of the local cluster runs meanwhile.
//   node bench/burst.ts
// Writes bench/results/burst.{json,md,png}.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { localCluster } from './support/localCluster.ts';
import { runK6 } from './support/k6.ts';
import { PALETTE, writeFigurePng } from './support/plot.ts';
import { machine, markdownTable, resultFile, writeResults } from './support/results.ts';

// Ramps of 10 s and holds of 30 s: 2 minutes of load.
const STAGES: Array<{ seconds: number; target: number }> = [
  { seconds: 10, target: 1000 },
  { seconds: 30, target: 1000 },
  { seconds: 10, target: 2000 },
  { seconds: 30, target: 2000 },
  { seconds: 10, target: 3000 },
  { seconds: 30, target: 3000 },
];
// Each request holds 100 ms in the app, so the load is concurrency the autoscaler has to answer.
const GATEWAY = 'http://127.0.0.1:31080/?sleep=100';
const NAMESPACE = 'default';
const K6_START_MARGIN_MS = 3000;
const AFTER_LOAD_MS = 5000;
// The revision reaches zero once the sample's 40 s window has seen no traffic, plus the grace period.
const ZERO_TIMEOUT_MS = 180_000;

interface K6BurstSummary {
  requests: number;
  failed: number;
  droppedIterations: number;
  maxVUs: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** Responses by status; 0 is a request that got no response (refused, reset, timed out). */
  statuses: Record<string, number>;
  perSecond: Array<{ second: number; requests: number; failed: number; p95Ms: number | null; maxMs: number | null }>;
}

interface ReplicaSample {
  second: number;
  desired: number;
  ready: number;
}

const repo = join(import.meta.dirname, '..');
const { kubeconfig, cli, kubectl, remove } = await localCluster('burst');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The autoscale sample with the image `pilotlight up` imports, from zero: without its min-scale. */
function burstService(): { name: string; manifest: string } {
  const service = parse(readFileSync(join(repo, 'samples', 'autoscale-local.yaml'), 'utf8'));
  delete service.spec.template.metadata.annotations['autoscaling.knative.dev/min-scale'];
  service.metadata.namespace = NAMESPACE;
  return { name: service.metadata.name as string, manifest: stringify(service) };
}

/** The arrival rate k6 is asked for `second`s into the run. */
function targetRate(second: number): number {
  let start = 0;
  let from = 0;
  for (const stage of STAGES) {
    if (second <= start + stage.seconds) return from + ((stage.target - from) * (second - start)) / stage.seconds;
    start += stage.seconds;
    from = stage.target;
  }
  return from;
}

try {
  await cli('up', '--local');
  await kubectl([
    'patch',
    'configmap',
    'config-autoscaler',
    '-n',
    'knative-serving',
    '--type=merge',
    '-p',
    JSON.stringify({ data: { 'scale-to-zero-grace-period': '6s' } }),
  ]);
  const service = burstService();
  await kubectl(['apply', '-f', '-'], service.manifest);
  await kubectl(['wait', '--for=condition=Ready', `ksvc/${service.name}`, '--timeout=180s']);
  const api = createKubeRest(loadKubeConnection(kubeconfig));
  const deploymentPath = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${service.name}-00001-deployment`;
  const replicas = async () => {
    const deployment = await api.request<{ spec?: { replicas?: number }; status?: { readyReplicas?: number } }>(
      'GET',
      deploymentPath,
    );
    return { desired: deployment.spec?.replicas ?? 0, ready: deployment.status?.readyReplicas ?? 0 };
  };
  const zeroBy = Date.now() + ZERO_TIMEOUT_MS;
  console.error(`burst: waiting for ${service.name} to scale to zero`);
  for (let now = await replicas(); now.desired !== 0 || now.ready !== 0; now = await replicas()) {
    if (Date.now() > zeroBy)
      throw new Error(`${service.name} did not scale to zero within ${ZERO_TIMEOUT_MS / 1000} s`);
    await sleep(1000);
  }

  const startEpochMs = Date.now() + K6_START_MARGIN_MS;
  const samples: ReplicaSample[] = [];
  let polling = true;
  const poller = (async () => {
    for (let tick = 0; polling; tick++) {
      const second = (Date.now() - startEpochMs) / 1000;
      samples.push({ second, ...(await replicas().catch(() => ({ desired: Number.NaN, ready: Number.NaN }))) });
      await sleep(Math.max(0, startEpochMs + (tick + 1) * 1000 - K6_START_MARGIN_MS - Date.now()));
    }
  })();
  console.error(`burst: k6 ${STAGES.map((s) => `${s.seconds}s→${s.target}`).join(', ')} req/s`);
  const summary = await runK6<K6BurstSummary>({
    script: 'burst.js',
    env: {
      URL: GATEWAY,
      HOST: `${service.name}.${NAMESPACE}.example.com`,
      START_EPOCH_MS: startEpochMs,
      STAGES: STAGES.map((s) => `${s.seconds}s:${s.target}`).join(','),
    },
  });
  await sleep(AFTER_LOAD_MS);
  polling = false;
  await poller;

  // Why requests failed: every hop logs each upstream failure ("upstream failed", with the
  // error code), so count them by the hop that saw it and the code.
  const logsOf = async (namespace: string, selector: string, container: string) =>
    (await kubectl(['logs', '-n', namespace, '-l', selector, '-c', container, '--tail=-1', '--prefix=false'])).stdout;
  const upstreamFailures: Record<string, number> = {};
  for (const [hop, log] of [
    ['gateway', await logsOf('knative-serving', 'app.kubernetes.io/component=gateway', 'gateway')],
    ['activator', await logsOf('knative-serving', 'app.kubernetes.io/component=activator', 'activator')],
    ['queue-proxy', await logsOf(NAMESPACE, `serving.knative.dev/service=${service.name}`, 'queue-proxy')],
  ] as const) {
    for (const line of log.split('\n')) {
      if (!line.includes('"upstream failed"')) continue;
      const failure = JSON.parse(line) as { code?: string; error?: string };
      const key = `${hop}: ${failure.code ?? failure.error ?? 'unknown'}`;
      upstreamFailures[key] = (upstreamFailures[key] ?? 0) + 1;
    }
  }

  let stageStart = 0;
  const steps = STAGES.map((stage) => {
    const seconds = summary.perSecond.filter((s) => s.second >= stageStart && s.second < stageStart + stage.seconds);
    const during = samples.filter((s) => s.second >= stageStart && s.second < stageStart + stage.seconds);
    const row = {
      fromSecond: stageStart,
      toSecond: stageStart + stage.seconds,
      rate: stage.target,
      ramp: stageStart === 0 || STAGES[STAGES.indexOf(stage) - 1]!.target !== stage.target,
      requests: seconds.reduce((sum, s) => sum + s.requests, 0),
      failed: seconds.reduce((sum, s) => sum + s.failed, 0),
      worstSecondP95Ms: Math.max(0, ...seconds.map((s) => s.p95Ms ?? 0)),
      maxMs: Math.max(0, ...seconds.map((s) => s.maxMs ?? 0)),
      readyReplicasAtEnd: during.at(-1)?.ready ?? 0,
    };
    stageStart += stage.seconds;
    return row;
  });
  const firstReady = samples.find((s) => s.second >= 0 && s.ready > 0);
  const results = {
    machine: machine(),
    method:
      `k6 ramping-arrival-rate through the gateway NodePort (${GATEWAY}) to ksvc ${service.name} (samples/autoscale-local.yaml without min-scale, ?sleep=100) at zero; ` +
      'latency and errors per second from k6 (requests tagged with the second they were sent); replicas read from the Deployment every second',
    service: service.name,
    stages: STAGES,
    totals: {
      requests: summary.requests,
      failed: summary.failed,
      statuses: summary.statuses,
      droppedIterations: summary.droppedIterations,
      maxVUs: summary.maxVUs,
      latencyMs: summary.latencyMs,
    },
    upstreamFailures,
    firstReadyReplicaSecond: firstReady?.second,
    peakReadyReplicas: Math.max(0, ...samples.map((s) => s.ready).filter(Number.isFinite)),
    steps,
    perSecond: summary.perSecond,
    replicas: samples,
  };

  const table = markdownTable(
    ['seconds', 'req/s asked', 'requests', 'failed', 'worst 1 s p95 ms', 'max ms', 'ready replicas at end'],
    steps.map((s) => [
      `${s.fromSecond}–${s.toSecond}`,
      s.ramp ? `ramp to ${s.rate}` : `${s.rate}`,
      s.requests,
      s.failed,
      s.worstSecondP95Ms.toFixed(0),
      s.maxMs.toFixed(0),
      s.readyReplicasAtEnd,
    ]),
  );
  const m = results.machine;
  const l = summary.latencyMs;
  const markdown = [
    '# burst from zero',
    '',
    table,
    '',
    `All: ${summary.requests} requests, ${summary.failed} failed (statuses: ${Object.entries(summary.statuses)
      .map(([status, n]) => `${status} ×${n}`)
      .join(', ')}), k6 dropped ${summary.droppedIterations} iterations (up to ${summary.maxVUs} VUs); ` +
      `p50 ${l.p50.toFixed(0)} ms, p95 ${l.p95.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms, max ${l.max.toFixed(0)} ms. ` +
      `First pod ready ${firstReady ? `${firstReady.second.toFixed(1)} s` : 'never'} after the load began; at most ${results.peakReadyReplicas} ready. ` +
      `k6, the cluster and every pod share ${m.cpus} × ${m.cpuModel}; Node ${m.node}, load ${m.loadAverage1m.toFixed(2)}.`,
    '',
    `Upstream failures logged by the gateway, the activator and queue-proxy: ${
      Object.entries(upstreamFailures)
        .map(([key, n]) => `${key} ×${n}`)
        .join(', ') || 'none'
    }.`,
  ].join('\n');
  writeResults('burst', results, markdown);
  const perSecond = summary.perSecond;
  // One time axis for every panel, from the first replica sample to the last.
  const timeAxis = [
    -K6_START_MARGIN_MS / 1000,
    STAGES.reduce((sum, s) => sum + s.seconds, 0) + AFTER_LOAD_MS / 1000,
  ] as const;
  writeFigurePng(resultFile('burst.png'), {
    panels: [
      {
        title: 'Replicas',
        xLabel: 'seconds since the load began',
        yLabel: 'pods',
        x: timeAxis,
        series: [
          {
            name: 'desired',
            color: PALETTE[0],
            dashed: true,
            points: samples.filter((s) => Number.isFinite(s.desired)).map((s) => [s.second, s.desired] as const),
          },
          {
            name: 'ready',
            color: PALETTE[2],
            points: samples.filter((s) => Number.isFinite(s.ready)).map((s) => [s.second, s.ready] as const),
          },
        ],
      },
      {
        title: 'Latency per second',
        xLabel: 'seconds since the load began',
        yLabel: 'ms',
        x: timeAxis,
        series: [
          {
            name: 'p95',
            color: PALETTE[1],
            points: perSecond.filter((s) => s.p95Ms !== null).map((s) => [s.second, s.p95Ms!] as const),
          },
          {
            name: 'max',
            color: PALETTE[3],
            dashed: true,
            points: perSecond.filter((s) => s.maxMs !== null).map((s) => [s.second, s.maxMs!] as const),
          },
        ],
      },
      {
        title: 'Requests per second',
        xLabel: 'seconds since the load began',
        yLabel: 'req/s',
        x: timeAxis,
        series: [
          {
            name: 'asked',
            color: PALETTE[0],
            dashed: true,
            points: perSecond.map((s) => [s.second, targetRate(s.second)] as const),
          },
          { name: 'sent', color: PALETTE[2], points: perSecond.map((s) => [s.second, s.requests] as const) },
          { name: 'failed', color: PALETTE[1], points: perSecond.map((s) => [s.second, s.failed] as const) },
        ],
      },
    ],
  });
  console.log(markdown);
} finally {
  await remove();
}
