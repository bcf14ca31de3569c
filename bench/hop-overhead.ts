// What each data-plane hop adds, on one machine in one run: the app directly, through its
// queue-proxy, through the activator and that queue-proxy, through the pilotlight gateway and the
// queue-proxies of a 90/10 split, and through HAProxy with the same split. The app holds every
// request 100 ms, as upstream's dataplane-probe benchmark does, so hundreds of requests are in
// flight at once, and k6 sends them at fixed arrival rates (constant-arrival-rate): a path that
// cannot keep up shows as latency and dropped iterations, not as a politely lower rate.
// Reports p50/p95/p99 and what each path adds over the direct one, the CPU time per request of
// every proxy process in the path (from /proc/<pid>/stat) and their peak memory, and the split
// each app saw. Every path runs once per round, in an order rotated per round and rate, and the
// medians over rounds are reported, because everything shares the CPUs.
//   node bench/hop-overhead.ts [--rates 500,1000] [--duration 5s] [--rounds 3] [--hold-ms 100]
// Writes bench/results/hop-overhead.{json,md,png}.
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { z } from 'zod';
import { appStats, eventually, putRevision, startActivator, startPod, type Pod } from '../harness/activator.ts';
import { ingress, split, startGateway } from '../harness/gateway.ts';
import type { Proc } from '../harness/processes.ts';
import { cpuMs, rssMiB } from './load.ts';
import { haproxyVersion, startHaproxy } from './support/haproxy.ts';
import { runK6 } from './support/k6.ts';
import { PALETTE, writeFigurePng } from './support/plot.ts';
import { machine, markdownTable, resultFile, writeResults } from './support/results.ts';

const HOST = 'hello.default.example.com';
const STABLE = 'hello-00001';
const CANARY = 'hello-00002';
const STABLE_PERCENT = 90;

const Options = z.object({
  rates: z
    .string()
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().int().positive()).min(1)),
  duration: z.string().regex(/^\d+(ms|s|m)$/, 'a k6 duration such as 10s'),
  rounds: z.coerce.number().int().positive(),
  holdMs: z.coerce.number().int().nonnegative(),
});
const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,1000' },
    duration: { type: 'string', default: '5s' },
    rounds: { type: 'string', default: '3' },
    'hold-ms': { type: 'string', default: '100' },
  },
});
const options = Options.parse({
  rates: values.rates,
  duration: values.duration,
  rounds: values.rounds,
  holdMs: values['hold-ms'],
});

interface K6HopSummary {
  rate: number;
  requests: number;
  failed: number;
  droppedIterations: number;
  latencyMs: { min: number; max: number; avg: number; percentiles: Array<[number, number]> };
}

/** A process a path adds, measured as one: the gateway's split has two queue-proxies. */
interface Hop {
  name: string;
  pids: number[];
}

interface Path {
  name: string;
  port: number;
  hops: Hop[];
  /** Apps whose request counters show the split this path made. */
  splitOver?: Array<{ revision: string; pod: Pod }>;
}

interface HopCost {
  name: string;
  cpuUsPerRequest: number;
  rssPeakMiB: number;
}

interface PathRun {
  rate: number;
  path: string;
  requests: number;
  failed: number;
  droppedIterations: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; percentiles: Array<[number, number]> };
  addedMs?: { p50: number; p95: number; p99: number };
  hops: HopCost[];
  /** Requests each revision's app answered during the run, when the path splits. */
  split?: Record<string, number>;
}

const percentile = (summary: K6HopSummary, p: number) => summary.latencyMs.percentiles.find(([q]) => q === p)![1];
const countOf = async (pod: Pod) => (await appStats(pod.app)).requests;

async function warm(port: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 20 });
  const headers = { host: HOST, 'knative-serving-revision': STABLE, 'knative-serving-namespace': 'default' };
  const once = () => pool.request({ path: '/', method: 'GET', headers }).then((res) => res.body.dump());
  for (let batch = 0; batch < 50; batch++) await Promise.all(Array.from({ length: 20 }, once));
  await pool.close();
}

async function measure(path: Path, rate: number): Promise<PathRun> {
  const pids = path.hops.flatMap((hop) => hop.pids);
  const cpuBefore = new Map(pids.map((pid) => [pid, cpuMs(pid)]));
  const rssPeak = new Map(pids.map((pid) => [pid, rssMiB(pid)]));
  const sampler = setInterval(() => {
    for (const pid of pids) rssPeak.set(pid, Math.max(rssPeak.get(pid)!, rssMiB(pid)));
  }, 200);
  const splitBefore = path.splitOver && (await Promise.all(path.splitOver.map(({ pod }) => countOf(pod))));
  const summary = await runK6<K6HopSummary>({
    script: 'hop-overhead.js',
    env: {
      URL: `http://127.0.0.1:${path.port}/?sleep=${options.holdMs}`,
      HOST,
      REVISION: STABLE,
      RATE: rate,
      DURATION: options.duration,
      // Enough VUs for every request to take four times the hold, so k6 drops iterations only
      // when a path (or the machine) stalls well beyond the hold.
      MAX_VUS: Math.max(50, Math.ceil((rate * 4 * Math.max(options.holdMs, 10)) / 1000)),
    },
  });
  clearInterval(sampler);
  const splitAfter = path.splitOver && (await Promise.all(path.splitOver.map(({ pod }) => countOf(pod))));
  const requests = Math.max(1, summary.requests);
  return {
    rate,
    path: path.name,
    requests: summary.requests,
    failed: summary.failed,
    droppedIterations: summary.droppedIterations,
    latencyMs: {
      p50: percentile(summary, 50),
      p95: percentile(summary, 95),
      p99: percentile(summary, 99),
      max: summary.latencyMs.max,
      percentiles: summary.latencyMs.percentiles,
    },
    hops: path.hops.map((hop) => ({
      name: hop.name,
      cpuUsPerRequest: (hop.pids.reduce((sum, pid) => sum + cpuMs(pid) - cpuBefore.get(pid)!, 0) * 1000) / requests,
      rssPeakMiB: Math.max(...hop.pids.map((pid) => rssPeak.get(pid)!)),
    })),
    ...(path.splitOver && {
      split: Object.fromEntries(
        path.splitOver.map(({ revision }, i) => [revision, splitAfter![i]! - splitBefore![i]!]),
      ),
    }),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const sum = (values: number[]) => values.reduce((total, n) => total + n, 0);

/** One path at one rate over all rounds: medians of latencies and CPU, sums of counts, peak RSS. */
function combine(rounds: PathRun[]): PathRun {
  const first = rounds[0]!;
  const added = rounds.flatMap((r) => (r.addedMs ? [r.addedMs] : []));
  return {
    rate: first.rate,
    path: first.path,
    requests: sum(rounds.map((r) => r.requests)),
    failed: sum(rounds.map((r) => r.failed)),
    droppedIterations: sum(rounds.map((r) => r.droppedIterations)),
    latencyMs: {
      p50: median(rounds.map((r) => r.latencyMs.p50)),
      p95: median(rounds.map((r) => r.latencyMs.p95)),
      p99: median(rounds.map((r) => r.latencyMs.p99)),
      max: Math.max(...rounds.map((r) => r.latencyMs.max)),
      percentiles: first.latencyMs.percentiles.map(([p], i) => [
        p,
        median(rounds.map((r) => r.latencyMs.percentiles[i]![1])),
      ]),
    },
    ...(added.length > 0 && {
      addedMs: {
        p50: median(added.map((a) => a.p50)),
        p95: median(added.map((a) => a.p95)),
        p99: median(added.map((a) => a.p99)),
      },
    }),
    hops: first.hops.map((hop, i) => ({
      name: hop.name,
      cpuUsPerRequest: median(rounds.map((r) => r.hops[i]!.cpuUsPerRequest)),
      rssPeakMiB: Math.max(...rounds.map((r) => r.hops[i]!.rssPeakMiB)),
    })),
    ...(first.split && {
      split: Object.fromEntries(
        Object.keys(first.split).map((revision) => [revision, sum(rounds.map((r) => r.split![revision]!))]),
      ),
    }),
  };
}

const haproxyAvailable = haproxyVersion();
const [stable, canary] = await Promise.all([startPod(), startPod()]);
const started: Array<{ stop(): Promise<unknown> }> = [canary, stable];
try {
  const activator = await startActivator();
  started.unshift(activator);
  await putRevision(activator, STABLE, { containerConcurrency: 0, pods: [stable.address] });
  await eventually("the pod answered the activator's probe", () =>
    activator.lines.some((l) => l.message === 'pod answered its probe; releasing held requests'),
  );
  const splits = [split(STABLE, STABLE_PERCENT), split(CANARY, 100 - STABLE_PERCENT)];
  const gateway = await startGateway({
    ingresses: [ingress('hello', [{ hosts: [HOST], paths: [{ splits }] }])],
    backends: [
      { name: STABLE, addresses: [stable.address] },
      { name: CANARY, addresses: [canary.address] },
    ],
  });
  started.unshift(gateway);
  const haproxy =
    haproxyAvailable === undefined
      ? undefined
      : await startHaproxy(HOST, [
          { name: STABLE, address: stable.address, weight: STABLE_PERCENT },
          { name: CANARY, address: canary.address, weight: 100 - STABLE_PERCENT },
        ]);
  if (haproxy) started.unshift(haproxy);

  const pid = (proc: Proc) => proc.child.pid!;
  const queueProxies: Hop = { name: 'queue-proxy', pids: [pid(stable.queueProxy), pid(canary.queueProxy)] };
  const splitOver = [
    { revision: STABLE, pod: stable },
    { revision: CANARY, pod: canary },
  ];
  const paths: Path[] = [
    { name: 'direct', port: stable.app.port, hops: [] },
    {
      name: 'queue-proxy',
      port: stable.queueProxy.servingPort,
      hops: [{ name: 'queue-proxy', pids: [pid(stable.queueProxy)] }],
    },
    {
      name: 'activator + queue-proxy',
      port: activator.port,
      hops: [
        { name: 'activator', pids: [pid(activator)] },
        { name: 'queue-proxy', pids: [pid(stable.queueProxy)] },
      ],
    },
    {
      name: 'gateway + queue-proxy',
      port: gateway.externalPort,
      hops: [{ name: 'gateway', pids: [pid(gateway)] }, queueProxies],
      splitOver,
    },
    ...(haproxy
      ? [
          {
            name: 'HAProxy + queue-proxy',
            port: haproxy.port,
            hops: [{ name: 'HAProxy', pids: [pid(haproxy)] }, queueProxies],
            splitOver,
          },
        ]
      : []),
  ];
  for (const path of paths) await warm(path.port);

  const measured: Array<PathRun & { round: number }> = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const [rateIndex, rate] of options.rates.entries()) {
      // Direct first, as the baseline every other path is compared with in the same minute; the
      // proxies rotate so none is always measured on the most loaded (or the quietest) machine.
      const proxied = paths.slice(1);
      const order = [paths[0]!, ...proxied.map((_, i) => proxied[(i + round + rateIndex) % proxied.length]!)];
      for (const path of order) {
        console.error(
          `hop-overhead: round ${round + 1}/${options.rounds}, ${path.name} at ${rate} req/s for ${options.duration}`,
        );
        measured.push({ round, ...(await measure(path, rate)) });
      }
    }
  }
  for (const run of measured) {
    const direct = measured.find((r) => r.round === run.round && r.rate === run.rate && r.path === 'direct')!;
    if (run !== direct) {
      run.addedMs = {
        p50: run.latencyMs.p50 - direct.latencyMs.p50,
        p95: run.latencyMs.p95 - direct.latencyMs.p95,
        p99: run.latencyMs.p99 - direct.latencyMs.p99,
      };
    }
  }
  const runs = options.rates.flatMap((rate) =>
    paths.map((path) => combine(measured.filter((r) => r.rate === rate && r.path === path.name))),
  );

  const results = {
    machine: machine(),
    method:
      `k6 constant-arrival-rate, ${options.rounds} rounds of ${options.duration} per path and rate, order rotated per round; app holds each request ${options.holdMs} ms; paths warmed first; ` +
      'latencies and CPU: medians over rounds; added = median over rounds of (path minus direct in the same round); ' +
      "CPU = CPU time of the path's proxy processes over the run / requests; RSS = peak during the runs; counts summed",
    holdMs: options.holdMs,
    haproxy: haproxy?.version ?? 'not installed: apt-get install -y haproxy',
    runs,
    rounds: measured,
  };

  const f = (n: number | undefined, digits = 2) => (n === undefined ? '' : n.toFixed(digits));
  const table = markdownTable(
    [
      'req/s',
      'path',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'added p50',
      'added p95',
      'added p99',
      'CPU µs/req by hop',
      'RSS peak MiB by hop',
      'failed',
      'dropped',
      'split',
    ],
    runs.map((r) => [
      r.rate,
      r.path,
      f(r.latencyMs.p50),
      f(r.latencyMs.p95),
      f(r.latencyMs.p99),
      f(r.addedMs?.p50),
      f(r.addedMs?.p95),
      f(r.addedMs?.p99),
      r.hops.map((h) => `${h.name} ${h.cpuUsPerRequest.toFixed(0)}`).join(' + '),
      r.hops.map((h) => `${h.name} ${h.rssPeakMiB.toFixed(0)}`).join(', '),
      r.failed,
      r.droppedIterations,
      r.split ? Object.values(r.split).join('/') : '',
    ]),
    [false, false, true, true, true, true, true, true, false, false, true, true, false],
  );
  const m = results.machine;
  const markdown = [
    '# hop overhead',
    '',
    table,
    '',
    `Medians of ${options.rounds} rounds of ${options.duration} per path and rate (failed, dropped and split: totals). Latencies include the app's ${options.holdMs} ms hold; "added" is over the direct path at the same rate in the same round. CPU per request counts every proxy process of the path (both queue-proxies of the ${STABLE_PERCENT}/${100 - STABLE_PERCENT} split). ` +
      `Split: requests ${STABLE}/${CANARY} answered, as counted by the apps. HAProxy: ${results.haproxy}. ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load ${m.loadAverage1m.toFixed(2)}.`,
  ].join('\n');
  writeResults('hop-overhead', results, markdown);
  writeFigurePng(resultFile('hop-overhead.png'), {
    panels: options.rates.map((rate) => ({
      title: `Latency by percentile at ${rate} req/s (app holds ${options.holdMs} ms)`,
      // In "nines", as HdrHistogram plots do, so the tail gets as much room as the body.
      xLabel: 'percentile in nines: 0 = p0, 1 = p90, 2 = p99, 3 = p99.9',
      yLabel: 'latency (ms)',
      x: [0, 3] as const,
      yFromZero: false,
      series: runs
        .filter((r) => r.rate === rate)
        .map((r, i) => ({
          name: r.path,
          color: PALETTE[i % PALETTE.length]!,
          points: r.latencyMs.percentiles.map(([p, ms]) => [-Math.log10(1 - p / 100), ms] as const),
        })),
    })),
  });
  console.log(markdown);
} finally {
  for (const proc of started) await proc.stop();
}
