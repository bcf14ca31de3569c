// A rollout under load: the real gateway (static routing source) splits one route over two
// revisions, each a sample app behind its own queue-proxy, and moves the traffic to the new one in
// steps while k6 sends a fixed arrival rate through it. Per step: requests that failed (the target
// is none, including those in flight while the table is swapped) and how far the split the apps
// saw is from the one asked for. The app holds each request, so every swap happens with requests
// in flight on both revisions.
//   node bench/rollout.ts [--steps 0,10,25,50,75,100] [--step-seconds 5] [--rate 300] [--hold-ms 100]
// Writes bench/results/rollout.{json,md,png}.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { appStats, startPod, type Pod } from '../harness/activator.ts';
import { ingress, split, startGateway, type GatewayProc, type RoutesFile } from '../harness/gateway.ts';
import { runK6 } from './support/k6.ts';
import { PALETTE, writeFigurePng } from './support/plot.ts';
import { machine, markdownTable, resultFile, writeResults } from './support/results.ts';

const HOST = 'hello.default.example.com';
const OLD = 'hello-00001';
const NEW = 'hello-00002';
// k6 needs a moment to start and allocate its VUs; the first step begins this long after launch.
const K6_START_MARGIN_MS = 3000;

const Options = z.object({
  steps: z
    .string()
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().min(0).max(100)).min(2)),
  stepSeconds: z.coerce.number().positive(),
  rate: z.coerce.number().int().positive(),
  holdMs: z.coerce.number().int().nonnegative(),
});
const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '0,10,25,50,75,100' },
    'step-seconds': { type: 'string', default: '5' },
    rate: { type: 'string', default: '300' },
    'hold-ms': { type: 'string', default: '100' },
  },
});
const options = Options.parse({
  steps: values.steps,
  stepSeconds: values['step-seconds'],
  rate: values.rate,
  holdMs: values['hold-ms'],
});

interface K6RolloutSummary {
  rate: number;
  droppedIterations: number;
  perStep: Array<{
    step: number;
    requests: number;
    failed: number;
    latencyMs: { p50: number; p99: number; max: number };
  }>;
}

function routes(newPercent: number, oldPod: Pod, newPod: Pod): RoutesFile {
  return {
    ingresses: [
      ingress('hello', [
        { hosts: [HOST], paths: [{ splits: [split(OLD, 100 - newPercent), split(NEW, newPercent)] }] },
      ]),
    ],
    backends: [
      { name: OLD, addresses: [oldPod.address] },
      { name: NEW, addresses: [newPod.address] },
    ],
  };
}

const sleepUntil = (epochMs: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));

const stepMs = options.stepSeconds * 1000;
const [oldPod, newPod] = await Promise.all([startPod(), startPod()]);
let gateway: GatewayProc | undefined;
try {
  gateway = await startGateway(routes(options.steps[0]!, oldPod, newPod));
  const counts = async () => Promise.all([oldPod, newPod].map(async (pod) => (await appStats(pod.app)).requests));
  const startEpochMs = Date.now() + K6_START_MARGIN_MS;
  const load = runK6<K6RolloutSummary>({
    script: 'rollout.js',
    env: {
      URL: `http://127.0.0.1:${gateway.externalPort}/?sleep=${options.holdMs}`,
      HOST,
      RATE: options.rate,
      START_EPOCH_MS: startEpochMs,
      STEP_MS: stepMs,
      STEPS: options.steps.length,
      MAX_VUS: Math.max(50, Math.ceil((options.rate * 2 * Math.max(options.holdMs, 10)) / 1000)),
    },
  });

  const measured: Array<{ newPercent: number; swapMs: number; served: [number, number] }> = [];
  let before: number[] = [];
  for (const [i, newPercent] of options.steps.entries()) {
    await sleepUntil(startEpochMs + i * stepMs);
    let swapMs = 0;
    if (i > 0) {
      const swapStarted = performance.now();
      await gateway.update(routes(newPercent, oldPod, newPod));
      swapMs = performance.now() - swapStarted;
    }
    // Counted from the swap on, so every request counted was routed by this step's table.
    before = await counts();
    console.error(`rollout: step ${i}, ${newPercent}% to ${NEW}`);
    await sleepUntil(startEpochMs + (i + 1) * stepMs);
    const after = await counts();
    measured.push({ newPercent, swapMs, served: [after[0]! - before[0]!, after[1]! - before[1]!] });
  }
  const summary = await load;

  const steps = measured.map((m, i) => {
    const k6 = summary.perStep[i]!;
    const total = m.served[0] + m.served[1];
    const measuredNewPercent = total === 0 ? 0 : (100 * m.served[1]) / total;
    return {
      step: i,
      targetNewPercent: m.newPercent,
      measuredNewPercent,
      splitErrorPoints: Math.abs(measuredNewPercent - m.newPercent),
      servedByApps: { [OLD]: m.served[0], [NEW]: m.served[1] },
      requests: k6.requests,
      failed: k6.failed,
      latencyMs: k6.latencyMs,
      swapMs: m.swapMs,
    };
  });
  const results = {
    machine: machine(),
    method:
      `k6 constant-arrival-rate ${options.rate} req/s through the gateway for ${options.steps.length} steps of ${options.stepSeconds} s; ` +
      `the app holds each request ${options.holdMs} ms; k6 tags each request with the step in force when it was sent; ` +
      'split counted by the apps from the moment the new table is live to the end of the step',
    rate: options.rate,
    holdMs: options.holdMs,
    droppedIterations: summary.droppedIterations,
    totalFailed: steps.reduce((sum, s) => sum + s.failed, 0),
    maxSplitErrorPoints: Math.max(...steps.map((s) => s.splitErrorPoints)),
    steps,
  };

  const table = markdownTable(
    [
      'step',
      `target % to ${NEW}`,
      'measured %',
      'split error (points)',
      `served ${OLD}/${NEW}`,
      'requests',
      'failed',
      'p50 ms',
      'p99 ms',
      'max ms',
      'table swap ms',
    ],
    steps.map((s) => [
      s.step,
      s.targetNewPercent,
      s.measuredNewPercent.toFixed(1),
      s.splitErrorPoints.toFixed(1),
      `${s.servedByApps[OLD]}/${s.servedByApps[NEW]}`,
      s.requests,
      s.failed,
      s.latencyMs.p50.toFixed(1),
      s.latencyMs.p99.toFixed(1),
      s.latencyMs.max.toFixed(1),
      s.swapMs.toFixed(0),
    ]),
  );
  const m = results.machine;
  const markdown = [
    '# rollout under load',
    '',
    table,
    '',
    `${options.rate} req/s for ${options.steps.length} × ${options.stepSeconds} s; failed requests ${results.totalFailed} (target 0); largest split error ${results.maxSplitErrorPoints.toFixed(1)} points; ` +
      `k6 dropped ${summary.droppedIterations} iterations. Latencies include the app's ${options.holdMs} ms hold. ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load ${m.loadAverage1m.toFixed(2)}.`,
  ].join('\n');
  writeResults('rollout', results, markdown);
  writeFigurePng(resultFile('rollout.png'), {
    panels: [
      {
        title: `Traffic to ${NEW}: asked for vs served (counted by the apps)`,
        xLabel: `step target: % of traffic to ${NEW}`,
        yLabel: `% served by ${NEW}`,
        x: [0, 100],
        y: [0, 100],
        series: [
          {
            name: 'asked for',
            color: PALETTE[0],
            dashed: true,
            points: steps.map((s) => [s.targetNewPercent, s.targetNewPercent] as const),
          },
          {
            name: 'served',
            color: PALETTE[1],
            markers: true,
            points: steps.map((s) => [s.targetNewPercent, s.measuredNewPercent] as const),
          },
        ],
      },
      {
        title: 'Failed requests and p99 latency per step',
        xLabel: `step target: % of traffic to ${NEW}`,
        yLabel: 'count / ms',
        x: [0, 100],
        series: [
          {
            name: 'failed requests',
            color: PALETTE[1],
            markers: true,
            points: steps.map((s) => [s.targetNewPercent, s.failed] as const),
          },
          {
            name: 'p99 ms',
            color: PALETTE[2],
            markers: true,
            points: steps.map((s) => [s.targetNewPercent, s.latencyMs.p99] as const),
          },
        ],
      },
    ],
  });
  console.log(markdown);
} finally {
  await gateway?.stop();
  await Promise.all([oldPod.stop(), newPod.stop()]);
}
