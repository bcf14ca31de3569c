// Queue-proxy's cost, measured side by side in one run: the sample app called directly and
// through a queue-proxy process, at a fixed concurrency and at a fixed 500 req/s, all on
// loopback. Reports throughput, latency and what the proxy adds, the proxy's CPU time per
// request and its memory. Direct and proxied runs alternate over several rounds and medians
// are reported, because the load generator, the app and the proxy share a small machine.
// Run: node bench/queue-proxy.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { request } from 'undici';
import { startQueueProxy, startSampleApp } from '../test/support/apps/processes.ts';
import { closedLoop, cpuMs, fixedRate, rssMiB, type LoadResult } from './load.ts';

const CONCURRENCY = 10;
const RATE = 500;
const PHASE_MS = 4000;
const ROUNDS = 3;
const IDLE_MS = 5000;
const TARGET_ADDED_P99_MS = 1;
const TARGET_RSS_MIB = 60;

interface Round {
  direct: LoadResult;
  proxied: LoadResult;
  proxyCpuUsPerRequest: number;
  proxyRssPeakMiB: number;
}

interface Scenario {
  name: string;
  run(origin: string): Promise<LoadResult>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// Other work on the machine shows in the tail latencies; the load average tells how much there was.
const loadAverageBefore = loadavg()[0]!;
const app = await startSampleApp();
const qp = await startQueueProxy(app.port);
const qpPid = qp.child.pid!;
try {
  const ready = await request(`http://127.0.0.1:${qp.servingPort}/`, { headers: { 'user-agent': 'kube-probe/1.34', 'k-network-probe': 'queue' } });
  await ready.body.dump();
  if (ready.statusCode !== 200) throw new Error(`queue-proxy not ready: ${ready.statusCode}`);
  const rssIdleMiB = rssMiB(qpPid);
  // A queue-proxy runs in every pod, so what it costs while nothing happens matters too.
  const idleCpuBefore = cpuMs(qpPid);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idleCpuMsPerSecond = (cpuMs(qpPid) - idleCpuBefore) / (IDLE_MS / 1000);
  const direct = `http://127.0.0.1:${app.port}`;
  const proxied = `http://127.0.0.1:${qp.servingPort}`;

  // Warm both paths (JIT, connection pools) before measuring.
  await closedLoop(direct, '/', CONCURRENCY, { maxRequests: 3000, maxDurationMs: 3000 });
  await closedLoop(proxied, '/', CONCURRENCY, { maxRequests: 3000, maxDurationMs: 3000 });
  const rssWarmIdleMiB = rssMiB(qpPid);

  const measureProxied = async (scenario: Scenario) => {
    let rssPeak = rssMiB(qpPid);
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssMiB(qpPid)); }, 100);
    const cpuBefore = cpuMs(qpPid);
    const result = await scenario.run(proxied);
    const cpuUs = ((cpuMs(qpPid) - cpuBefore) * 1000) / result.requests;
    clearInterval(sampler);
    return { result, cpuUs, rssPeak };
  };

  const scenarios: Scenario[] = [
    { name: `closed loop, concurrency ${CONCURRENCY}`, run: (origin) => closedLoop(origin, '/', CONCURRENCY, { maxRequests: 50_000, maxDurationMs: PHASE_MS }) },
    { name: `fixed rate ${RATE} req/s`, run: (origin) => fixedRate(origin, '/', RATE, { maxRequests: RATE * (PHASE_MS / 1000), maxDurationMs: PHASE_MS + 1000 }) },
  ];
  const rounds = new Map<string, Round[]>(scenarios.map((s) => [s.name, []]));
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
      rounds.get(scenario.name)!.push({ direct: directResult, proxied: proxiedRun.result, proxyCpuUsPerRequest: proxiedRun.cpuUs, proxyRssPeakMiB: proxiedRun.rssPeak });
    }
  }

  const summaries = scenarios.map(({ name }) => {
    const r = rounds.get(name)!;
    const m = (pick: (x: Round) => number) => median(r.map(pick));
    return {
      scenario: name,
      direct: { requestsPerSecond: m((x) => x.direct.requestsPerSecond), p50Ms: m((x) => x.direct.p50Ms), p99Ms: m((x) => x.direct.p99Ms) },
      proxied: { requestsPerSecond: m((x) => x.proxied.requestsPerSecond), p50Ms: m((x) => x.proxied.p50Ms), p99Ms: m((x) => x.proxied.p99Ms) },
      addedP50Ms: m((x) => x.proxied.p50Ms - x.direct.p50Ms),
      addedP99Ms: m((x) => x.proxied.p99Ms - x.direct.p99Ms),
      proxyCpuUsPerRequest: m((x) => x.proxyCpuUsPerRequest),
      proxyRssPeakMiB: Math.max(...r.map((x) => x.proxyRssPeakMiB)),
      errors: r.reduce((sum, x) => sum + x.direct.errors + x.proxied.errors, 0),
    };
  });

  const atRate = summaries[1]!;
  const peakRss = Math.max(...summaries.map((s) => s.proxyRssPeakMiB));
  const results = {
    machine: { cpus: availableParallelism(), node: process.version, loadAverageBefore, loadAverageAfter: loadavg()[0]! },
    method: `${ROUNDS} alternating rounds of ${PHASE_MS} ms per path and scenario; medians (added latency: median of per-round differences); RSS: peak`,
    rssIdleMiB, rssWarmIdleMiB, idleCpuMsPerSecond, summaries, rounds: Object.fromEntries(rounds),
    targets: {
      addedP99AtRateMs: { target: TARGET_ADDED_P99_MS, measured: atRate.addedP99Ms, met: atRate.addedP99Ms <= TARGET_ADDED_P99_MS },
      rssMiB: { target: TARGET_RSS_MIB, measured: peakRss, met: peakRss < TARGET_RSS_MIB },
    },
  };

  const f = (n: number, digits = 2) => n.toFixed(digits);
  const table = [
    `| scenario (median of ${ROUNDS}) | path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU µs/req | proxy RSS peak MiB |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...summaries.flatMap((s) => [
      `| ${s.scenario} | direct | ${f(s.direct.requestsPerSecond, 0)} | ${f(s.direct.p50Ms)} | ${f(s.direct.p99Ms)} | | | | |`,
      `| ${s.scenario} | queue-proxy | ${f(s.proxied.requestsPerSecond, 0)} | ${f(s.proxied.p50Ms)} | ${f(s.proxied.p99Ms)} | ${f(s.addedP50Ms)} | ${f(s.addedP99Ms)} | ${f(s.proxyCpuUsPerRequest, 0)} | ${f(s.proxyRssPeakMiB, 1)} |`,
    ]),
    '',
    `Proxy idle: RSS ${f(rssIdleMiB, 1)} MiB at start, ${f(rssWarmIdleMiB, 1)} MiB after warm-up; CPU ${f(idleCpuMsPerSecond, 1)} ms/s. Errors: ${summaries.reduce((sum, s) => sum + s.errors, 0)}. ${availableParallelism()} CPUs, Node ${process.version}, 1-min load average ${f(loadAverageBefore)} before, ${f(results.machine.loadAverageAfter)} after.`,
    `Targets: added p99 at ${RATE} req/s ≤ ${TARGET_ADDED_P99_MS} ms: ${results.targets.addedP99AtRateMs.met ? 'met' : 'NOT met'} (${f(atRate.addedP99Ms)} ms); RSS < ${TARGET_RSS_MIB} MiB: ${results.targets.rssMiB.met ? 'met' : 'NOT met'} (peak ${f(peakRss, 1)} MiB).`,
  ].join('\n');

  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('queue-proxy.json', dir), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('queue-proxy.md', dir), `# queue-proxy benchmark\n\n${table}\n`);
  console.log(table);
} finally {
  await qp.stop();
  await app.stop();
}
