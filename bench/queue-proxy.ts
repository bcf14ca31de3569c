// Queue-proxy's cost, measured side by side in one run: the sample app called directly and
// through a queue-proxy process, at a fixed concurrency and at a fixed 500 req/s, all on
// loopback. Reports throughput, latency and what the proxy adds, the proxy's CPU time per
// request and its memory. Direct and proxied runs alternate over several rounds and medians
// are reported, because the load generator, the app and the proxy share a small machine.
// The proxy runs as in development (the .ts sources, stripped by Node as they load), as compiled
// for the image (cli/images/compile.ts) on node's defaults, and as the pod runs it, with each
// set of node flags config-deployment's queue-sidecar-jit chooses: they differ mostly in memory.
// A minimal node:http proxy with the default flags shows how much of that memory is Node.js's.
// The pod runs queue-proxy bundled into one module (cli/images/bundle.ts); the compiled tree of
// modules it ran before is measured beside it, and so are further V8 flags that trade CPU for memory.
// Each proxy runs in a memory cgroup of its own where the machine allows (root, cgroup v1), so its
// memory is also given as a container's working set, which is what a pod is judged by: RSS
// counts the node binary's pages, which the pod shares with every container of the image.
// Run: node bench/queue-proxy.ts [--only <name part>,...]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { cacheRoot, repoRoot } from '../cli/cluster/paths.ts';
import { bundleComponent } from '../cli/images/bundle.ts';
import { compileTree } from '../cli/images/compile.ts';
import { loopbackQueueProxyEnv, startSampleApp, track, waitForLine, type Proc } from '../harness/processes.ts';
import { QUEUE_NODE_FLAGS } from '../controllers/revision/resources/queueContainer.ts';
import { closedLoop, cpuMs, fixedRate, memoryMiB, peakMemory, type LoadResult, type MemoryMiB } from './load.ts';
import { createMemoryCgroup, type MemoryCgroup } from './support/cgroupMemory.ts';

const CONCURRENCY = 10;
const RATE = 500;
const PHASE_MS = 4000;
const ROUNDS = 3;
const IDLE_MS = 5000;
const TARGET_ADDED_P99_MS = 1;
/** The "under 60 MB", in the MiB this benchmark reports. */
const TARGET_RSS_MIB = 60e6 / 2 ** 20;
/** Issue 17's target for what a pod adds: the container's working set at 500 req/s. */
const TARGET_WORKING_SET_MIB = 20;

const { values: options } = parseArgs({ options: { only: { type: 'string' } } });

/** A reference variant is not queue-proxy as the pod runs it, so its figures are shown but not judged against the targets. */
interface Variant {
  name: string;
  args: string[];
  reference?: boolean;
}

interface Round {
  direct: LoadResult;
  proxied: LoadResult;
  proxyCpuUsPerRequest: number;
  proxyPeak: Memory;
}

/** A process's memory; workingSet is its own cgroup's, where it runs in one. */
type Memory = MemoryMiB & { workingSet?: number };

const peakOf = (a: Memory, b: Memory): Memory => ({
  ...peakMemory(a, b),
  ...(a.workingSet !== undefined && b.workingSet !== undefined
    ? { workingSet: Math.max(a.workingSet, b.workingSet) }
    : {}),
});

interface Scenario {
  name: string;
  run(origin: string): Promise<LoadResult>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A queue-proxy for revision default/app-00001 in front of userPort, run by `node <args>`. */
async function startQueueProxy(
  args: string[],
  userPort: number,
  cgroup: MemoryCgroup | undefined,
): Promise<Proc & { servingPort: number }> {
  const [command, commandArgs] = cgroup ? cgroup.wrap(process.execPath, args) : [process.execPath, args];
  const proc = track(
    spawn(command, commandArgs, {
      env: {
        ...process.env,
        ...loopbackQueueProxyEnv(userPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const line = await waitForLine(proc, (l) => l.message === 'queue-proxy started');
  return { ...proc, servingPort: line.servingPort as number };
}

const scenarios: Scenario[] = [
  {
    name: `closed loop, concurrency ${CONCURRENCY}`,
    run: (origin) => closedLoop(origin, '/', CONCURRENCY, { maxRequests: 50_000, maxDurationMs: PHASE_MS }),
  },
  {
    name: `fixed rate ${RATE} req/s`,
    run: (origin) =>
      fixedRate(origin, '/', RATE, { maxRequests: RATE * (PHASE_MS / 1000), maxDurationMs: PHASE_MS + 1000 }),
  },
];

async function measureVariant(variant: Variant, appPort: number) {
  const cgroup = createMemoryCgroup('queue-proxy-bench');
  const qp = await startQueueProxy(variant.args, appPort, cgroup);
  const qpPid = qp.child.pid!;
  const memory = (): Memory => ({
    ...memoryMiB(qpPid),
    ...(cgroup ? { workingSet: cgroup.workingSetMiB() } : {}),
  });
  try {
    const ready = await request(`http://127.0.0.1:${qp.servingPort}/`, {
      headers: { 'user-agent': 'kube-probe/1.34', 'k-network-probe': 'queue' },
    });
    await ready.body.dump();
    if (ready.statusCode !== 200) throw new Error(`queue-proxy not ready: ${ready.statusCode}`);
    const idle = memory();
    // A queue-proxy runs in every pod, so what it costs while nothing happens matters too.
    const idleCpuBefore = cpuMs(qpPid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleCpuMsPerSecond = (cpuMs(qpPid) - idleCpuBefore) / (IDLE_MS / 1000);
    const direct = `http://127.0.0.1:${appPort}`;
    const proxied = `http://127.0.0.1:${qp.servingPort}`;

    // Warm both paths (JIT, connection pools) before measuring.
    await closedLoop(direct, '/', CONCURRENCY, { maxRequests: 3000, maxDurationMs: 3000 });
    await closedLoop(proxied, '/', CONCURRENCY, { maxRequests: 3000, maxDurationMs: 3000 });
    const warmIdle = memory();

    const measureProxied = async (scenario: Scenario) => {
      let peak = memory();
      const sampler = setInterval(() => {
        peak = peakOf(peak, memory());
      }, 100);
      const cpuBefore = cpuMs(qpPid);
      const result = await scenario.run(proxied);
      const cpuUs = ((cpuMs(qpPid) - cpuBefore) * 1000) / result.requests;
      clearInterval(sampler);
      return { result, cpuUs, peak: peakOf(peak, memory()) };
    };

    const rounds = new Map<string, Round[]>(scenarios.map((sc) => [sc.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const scenario of scenarios) {
        let directResult: LoadResult;
        let proxiedRun: Awaited<ReturnType<typeof measureProxied>>;
        if (round % 2 === 0) {
          directResult = await scenario.run(direct);
          proxiedRun = await measureProxied(scenario);
        } else {
          proxiedRun = await measureProxied(scenario);
          directResult = await scenario.run(direct);
        }
        rounds.get(scenario.name)!.push({
          direct: directResult,
          proxied: proxiedRun.result,
          proxyCpuUsPerRequest: proxiedRun.cpuUs,
          proxyPeak: proxiedRun.peak,
        });
      }
    }
    const afterLoad = memory();

    const summaries = scenarios.map(({ name }) => {
      const r = rounds.get(name)!;
      const m = (pick: (x: Round) => number) => median(r.map(pick));
      return {
        scenario: name,
        direct: {
          requestsPerSecond: m((x) => x.direct.requestsPerSecond),
          p50Ms: m((x) => x.direct.p50Ms),
          p99Ms: m((x) => x.direct.p99Ms),
        },
        proxied: {
          requestsPerSecond: m((x) => x.proxied.requestsPerSecond),
          p50Ms: m((x) => x.proxied.p50Ms),
          p99Ms: m((x) => x.proxied.p99Ms),
        },
        addedP50Ms: m((x) => x.proxied.p50Ms - x.direct.p50Ms),
        addedP99Ms: m((x) => x.proxied.p99Ms - x.direct.p99Ms),
        proxyCpuUsPerRequest: m((x) => x.proxyCpuUsPerRequest),
        proxyPeak: r.map((x) => x.proxyPeak).reduce(peakOf),
        errors: r.reduce((sum, x) => sum + x.direct.errors + x.proxied.errors, 0),
      };
    });
    const atRate = summaries[1]!;
    const peak = [idle, ...summaries.map((sc) => sc.proxyPeak)].reduce(peakOf);
    return {
      variant: variant.name,
      ...(variant.reference ? { reference: true } : {}),
      command: `node ${variant.args.join(' ')}`,
      memoryMiB: { idle, warmIdle, peak, afterLoad },
      idleCpuMsPerSecond,
      summaries,
      rounds: Object.fromEntries(rounds),
      targets: {
        addedP99AtRateMs: {
          target: TARGET_ADDED_P99_MS,
          measured: atRate.addedP99Ms,
          met: atRate.addedP99Ms <= TARGET_ADDED_P99_MS,
        },
        rssMiB: { target: TARGET_RSS_MIB, measured: peak.rss, met: peak.rss < TARGET_RSS_MIB },
        ...(atRate.proxyPeak.workingSet !== undefined
          ? {
              workingSetAtRateMiB: {
                target: TARGET_WORKING_SET_MIB,
                measured: atRate.proxyPeak.workingSet,
                met: atRate.proxyPeak.workingSet <= TARGET_WORKING_SET_MIB,
              },
            }
          : {}),
      },
    };
  } finally {
    await qp.stop();
    cgroup?.remove();
  }
}

// The image's tree, compiled as the image build does; the cache key skips unchanged sources.
const compiledDir = join(cacheRoot, 'bench', 'queue-proxy-compiled');
compileTree(repoRoot, ['lib', 'queue-proxy', 'bench/support/minimalProxy.ts', 'package.json'], compiledDir);
const compiledMain = join(compiledDir, 'queue-proxy', 'main.js');
// The same tree with queue-proxy bundled, as the image holds it.
const bundledDir = join(cacheRoot, 'bench', 'queue-proxy-bundled');
rmSync(bundledDir, { recursive: true, force: true });
cpSync(compiledDir, bundledDir, { recursive: true });
await bundleComponent(bundledDir, 'queue-proxy');
const bundledMain = join(bundledDir, 'queue-proxy', 'main.js');
const allVariants: Variant[] = [
  {
    name: 'dev: .ts sources',
    args: [fileURLToPath(new URL('../queue-proxy/main.ts', import.meta.url))],
    reference: true,
  },
  { name: "compiled, node's defaults", args: [compiledMain], reference: true },
  {
    name: 'compiled tree of modules (before bundling), optimizing flags',
    args: [...QUEUE_NODE_FLAGS.optimizing, compiledMain],
    reference: true,
  },
  {
    name: 'as in the pod: queue-sidecar-jit optimizing (default)',
    args: [...QUEUE_NODE_FLAGS.optimizing, bundledMain],
  },
  { name: 'as in the pod: queue-sidecar-jit baseline', args: [...QUEUE_NODE_FLAGS.baseline, bundledMain] },
  // Candidates for less memory, each on top of the default's flags.
  {
    name: 'optimizing + --optimize-for-size',
    args: [...QUEUE_NODE_FLAGS.optimizing, '--optimize-for-size', bundledMain],
    reference: true,
  },
  {
    name: 'optimizing + --max-old-space-size=16',
    args: [...QUEUE_NODE_FLAGS.optimizing, '--max-old-space-size=16', bundledMain],
    reference: true,
  },
  {
    name: 'optimizing + --no-sparkplug',
    args: [...QUEUE_NODE_FLAGS.optimizing, '--no-sparkplug', bundledMain],
    reference: true,
  },
  {
    name: 'optimizing + --lite-mode',
    args: [...QUEUE_NODE_FLAGS.optimizing, '--lite-mode', bundledMain],
    reference: true,
  },
  {
    name: 'minimal node:http proxy, optimizing flags',
    args: [...QUEUE_NODE_FLAGS.optimizing, join(compiledDir, 'bench', 'support', 'minimalProxy.js')],
    reference: true,
  },
];
const only = options.only?.split(',');
const variants = only ? allVariants.filter((v) => only.some((part) => v.name.includes(part))) : allVariants;

// Other work on the machine shows in the tail latencies; the load average tells how much there was.
const loadAverageBefore = loadavg()[0]!;
const app = await startSampleApp();
try {
  const measured = [];
  for (const variant of variants) measured.push(await measureVariant(variant, app.port));
  const results = {
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      loadAverageBefore,
      loadAverageAfter: loadavg()[0]!,
    },
    method: `per variant: ${ROUNDS} alternating rounds of ${PHASE_MS} ms per path and scenario; medians (added latency: median of per-round differences); RSS, file-backed and private (smaps_rollup) and the working set of the proxy's own memory cgroup (usage less total_inactive_file) sampled every 100 ms, each at its peak`,
    variants: measured,
  };

  const f = (n: number, digits = 2) => n.toFixed(digits);
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const table = [
    `| queue-proxy run as | scenario (median of ${ROUNDS}) | direct req/s | direct p50 / p99 ms | proxied req/s | proxied p50 / p99 ms | added p50 ms | added p99 ms | proxy CPU µs/req | proxy RSS peak MiB |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...measured.flatMap((v) =>
      v.summaries.map(
        (sc) =>
          `| ${v.variant} | ${sc.scenario} | ${f(sc.direct.requestsPerSecond, 0)} | ${f(sc.direct.p50Ms)} / ${f(sc.direct.p99Ms)} | ${f(sc.proxied.requestsPerSecond, 0)} | ${f(sc.proxied.p50Ms)} / ${f(sc.proxied.p99Ms)} | ${f(sc.addedP50Ms)} | ${f(sc.addedP99Ms)} | ${f(sc.proxyCpuUsPerRequest, 0)} | ${f(sc.proxyPeak.rss, 1)} |`,
      ),
    ),
    '',
    `| queue-proxy run as | RSS idle at start MiB | RSS idle after warm-up MiB | RSS peak under load MiB | of it file-backed, peak MiB | private (USS) peak MiB | RSS after load MiB | idle CPU ms/s | errors | RSS < 60 MB (${f(TARGET_RSS_MIB, 1)} MiB) | added p99 at ${RATE} req/s ≤ ${TARGET_ADDED_P99_MS} ms |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    ...measured.map(
      (v) =>
        `| ${v.variant} | ${f(v.memoryMiB.idle.rss, 1)} | ${f(v.memoryMiB.warmIdle.rss, 1)} | ${f(v.memoryMiB.peak.rss, 1)} | ${f(v.memoryMiB.peak.fileBacked, 1)} | ${f(v.memoryMiB.peak.private, 1)} | ${f(v.memoryMiB.afterLoad.rss, 1)} | ${f(v.idleCpuMsPerSecond, 1)} | ${v.summaries.reduce((sum, sc) => sum + sc.errors, 0)} | ${met(v.targets.rssMiB.met)} | ${met(v.targets.addedP99AtRateMs.met)} (${f(v.targets.addedP99AtRateMs.measured)}) |`,
    ),
    '',
    ...(measured.every((v) => v.memoryMiB.idle.workingSet !== undefined)
      ? [
          `| queue-proxy run as | working set idle MiB | after warm-up | peak, closed loop | peak at ${RATE} req/s | RSS peak at ${RATE} req/s | CPU µs/req at ${RATE} req/s | CPU µs/req closed loop | working set ≤ ${TARGET_WORKING_SET_MIB} MiB at ${RATE} req/s |`,
          '|---|---:|---:|---:|---:|---:|---:|---:|---|',
          ...measured.map((v) => {
            const [closed, atRate] = v.summaries;
            return `| ${v.variant} | ${f(v.memoryMiB.idle.workingSet!, 1)} | ${f(v.memoryMiB.warmIdle.workingSet!, 1)} | ${f(closed!.proxyPeak.workingSet!, 1)} | ${f(atRate!.proxyPeak.workingSet!, 1)} | ${f(atRate!.proxyPeak.rss, 1)} | ${f(atRate!.proxyCpuUsPerRequest, 0)} | ${f(closed!.proxyCpuUsPerRequest, 0)} | ${v.reference ? '' : met(atRate!.proxyPeak.workingSet! <= TARGET_WORKING_SET_MIB)} |`;
          }),
          '',
          "The working set is the proxy's own memory cgroup's, as a container's (cAdvisor's container_memory_working_set_bytes): the pages it charged, not the node binary's, which other processes loaded first, as in a pod beside the components that run the same image.",
          '',
        ]
      : ['Working set: not measured (needs root and a cgroup v1 memory controller).', '']),
    "File-backed pages are mostly the node binary's code and data, shared with every process that runs the same binary; private pages are what one more such process adds.",
    '',
    `${availableParallelism()} CPUs, Node ${process.version}, 1-min load average ${f(loadAverageBefore)} before, ${f(results.machine.loadAverageAfter)} after.`,
  ].join('\n');

  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('queue-proxy.json', dir), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('queue-proxy.md', dir), `# queue-proxy benchmark\n\n${table}\n`);
  console.log(table);
} finally {
  await app.stop();
}
