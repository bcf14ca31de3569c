// The gateway's cost against the alternatives, in one run on this machine: the sample app called
// directly, through the pilotlight gateway (static routing source) and through HAProxy, both
// proxies routing by host and splitting 90/10 over two app processes, all on loopback. Reports
// requests/s at a fixed concurrency and latency at a fixed rate, each proxy's CPU time per request
// and its memory. Paths alternate over several rounds and medians are reported, because the load
// generator, the apps and the proxies share a small machine. HAProxy runs with one thread, as the
// gateway's JavaScript does; it comes from the Debian package (`apt-get install -y haproxy`).
// Run: node bench/gateway.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Pool } from 'undici';
import { startSampleApp } from '../harness/processes.ts';
import { get, ingress, revisionOf, split, startGateway } from '../harness/gateway.ts';
import { closedLoop, cpuMs, fixedRate, rssMiB, type LoadResult } from './load.ts';
import { haproxyVersion, startHaproxy } from './support/haproxy.ts';

const CONCURRENCY = 16;
// The issue's target: at most 1 ms added p99 at 1,000 req/s.
const RATE = 1000;
const PHASE_MS = 4000;
const ROUNDS = 3;
// closedLoop sends the origin as Host, so the route's host is the loopback address (ports are ignored in host matching).
const ROUTE_HOST = '127.0.0.1';

interface Target {
  name: string;
  origin: string;
  /** The process whose CPU and memory are the proxy's cost; undefined for the direct path. */
  pid: number | undefined;
}

interface Measurement {
  result: LoadResult;
  cpuUsPerRequest: number;
  rssPeakMiB: number;
}

interface Scenario {
  name: string;
  run(origin: string): Promise<LoadResult>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Proves each proxy is configured as claimed before timing it: 100 requests, 90 and 10. */
async function splitOf(origin: string): Promise<Record<string, number>> {
  const pool = new Pool(origin, { connections: 1 });
  const counts: Record<string, number> = {};
  for (let i = 0; i < 100; i++) {
    const answer = await get(pool, ROUTE_HOST);
    const revision = answer.status === 200 ? revisionOf(answer.text) : `status ${answer.status}`;
    counts[revision] = (counts[revision] ?? 0) + 1;
  }
  await pool.close();
  return counts;
}

async function measure(target: Target, scenario: Scenario): Promise<Measurement> {
  const pid = target.pid;
  let rssPeak = pid === undefined ? 0 : rssMiB(pid);
  const sampler = setInterval(() => {
    if (pid !== undefined) rssPeak = Math.max(rssPeak, rssMiB(pid));
  }, 100);
  const cpuBefore = pid === undefined ? 0 : cpuMs(pid);
  const result = await scenario.run(target.origin);
  clearInterval(sampler);
  const cpuUsPerRequest = pid === undefined ? 0 : ((cpuMs(pid) - cpuBefore) * 1000) / result.requests;
  return { result, cpuUsPerRequest, rssPeakMiB: rssPeak };
}

const installedHaproxy = haproxyVersion();
// Other work on the machine shows in the tail latencies; the load average tells how much there was.
const loadAverageBefore = loadavg()[0]!;
const [stable, canary] = await Promise.all([startSampleApp(), startSampleApp()]);
const gateway = await startGateway({
  ingresses: [
    ingress('hello', [
      { hosts: [ROUTE_HOST], paths: [{ splits: [split('hello-00001', 90), split('hello-00002', 10)] }] },
    ]),
  ],
  backends: [
    { name: 'hello-00001', addresses: [`127.0.0.1:${stable.port}`] },
    { name: 'hello-00002', addresses: [`127.0.0.1:${canary.port}`] },
  ],
});
const haproxy =
  installedHaproxy === undefined
    ? undefined
    : await startHaproxy(ROUTE_HOST, [
        { name: 'hello-00001', address: `127.0.0.1:${stable.port}`, weight: 90 },
        { name: 'hello-00002', address: `127.0.0.1:${canary.port}`, weight: 10 },
      ]);

try {
  const targets: Target[] = [
    { name: 'direct (app)', origin: `http://127.0.0.1:${stable.port}`, pid: undefined },
    { name: 'pilotlight gateway', origin: `http://127.0.0.1:${gateway.externalPort}`, pid: gateway.child.pid! },
    ...(haproxy
      ? [
          {
            name: `HAProxy ${haproxy.version} (nbthread 1)`,
            origin: `http://127.0.0.1:${haproxy.port}`,
            pid: haproxy.child.pid!,
          },
        ]
      : []),
  ];
  const splits = Object.fromEntries(
    await Promise.all(targets.slice(1).map(async (t) => [t.name, await splitOf(t.origin)] as const)),
  );
  const rssIdleMiB = Object.fromEntries(
    targets.filter((t) => t.pid !== undefined).map((t) => [t.name, rssMiB(t.pid!)]),
  );
  // Warm every path (JIT, connection pools) before measuring.
  for (const target of targets)
    await closedLoop(target.origin, '/', CONCURRENCY, { maxRequests: 5000, maxDurationMs: 3000 });

  const scenarios: Scenario[] = [
    {
      name: `closed loop, concurrency ${CONCURRENCY}`,
      run: (origin) => closedLoop(origin, '/', CONCURRENCY, { maxRequests: 100_000, maxDurationMs: PHASE_MS }),
    },
    {
      name: `fixed rate ${RATE} req/s`,
      run: (origin) =>
        fixedRate(origin, '/', RATE, { maxRequests: RATE * (PHASE_MS / 1000), maxDurationMs: PHASE_MS + 1000 }),
    },
  ];
  const runs = new Map<string, Measurement[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) {
      // Rotate the order so no path always runs first (or last) in a round.
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + round) % targets.length]!;
        const key = `${scenario.name}|${target.name}`;
        runs.set(key, [...(runs.get(key) ?? []), await measure(target, scenario)]);
      }
    }
  }
  const summaries = scenarios.flatMap((scenario) =>
    targets.map((target) => {
      const r = runs.get(`${scenario.name}|${target.name}`)!;
      const m = (pick: (x: Measurement) => number) => median(r.map(pick));
      return {
        scenario: scenario.name,
        target: target.name,
        requestsPerSecond: m((x) => x.result.requestsPerSecond),
        p50Ms: m((x) => x.result.p50Ms),
        p99Ms: m((x) => x.result.p99Ms),
        cpuUsPerRequest: target.pid === undefined ? undefined : m((x) => x.cpuUsPerRequest),
        rssPeakMiB: target.pid === undefined ? undefined : Math.max(...r.map((x) => x.rssPeakMiB)),
        errors: r.reduce((sum, x) => sum + x.result.errors, 0),
      };
    }),
  );
  const find = (scenario: string, target: string) =>
    summaries.find((s) => s.scenario === scenario && s.target.startsWith(target));
  const closedName = scenarios[0]!.name;
  const rateName = scenarios[1]!.name;
  const gatewayClosed = find(closedName, 'pilotlight');
  const haproxyClosed = find(closedName, 'HAProxy');
  // Each proxy runs on one core (the gateway is one Node process, HAProxy has nbthread 1), so
  // throughput and CPU per request compare per core.
  const ratios = {
    haproxyOverGatewayThroughput:
      haproxyClosed && gatewayClosed ? haproxyClosed.requestsPerSecond / gatewayClosed.requestsPerSecond : undefined,
    gatewayOverHaproxyCpuPerRequest:
      haproxyClosed?.cpuUsPerRequest && gatewayClosed?.cpuUsPerRequest
        ? gatewayClosed.cpuUsPerRequest / haproxyClosed.cpuUsPerRequest
        : undefined,
    gatewayAddedP99MsAtRate: (find(rateName, 'pilotlight')?.p99Ms ?? NaN) - (find(rateName, 'direct')?.p99Ms ?? NaN),
    haproxyAddedP99MsAtRate: (find(rateName, 'HAProxy')?.p99Ms ?? NaN) - (find(rateName, 'direct')?.p99Ms ?? NaN),
  };
  const results = {
    ratios,
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      loadAverageBefore,
      loadAverageAfter: loadavg()[0]!,
    },
    method: `${ROUNDS} rounds of ${PHASE_MS} ms per path and scenario, order rotated per round; medians; RSS: peak during load`,
    haproxy: haproxy ? haproxy.version : 'not installed: `apt-get install -y haproxy`',
    splitOf100: splits,
    rssIdleMiB,
    summaries,
  };
  const f = (n: number | undefined, digits = 2) => (n === undefined ? '' : n.toFixed(digits));
  const table = [
    `| scenario (median of ${ROUNDS}) | path | req/s | p50 ms | p99 ms | proxy CPU µs/req | proxy RSS peak MiB | errors |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...summaries.map(
      (s) =>
        `| ${s.scenario} | ${s.target} | ${f(s.requestsPerSecond, 0)} | ${f(s.p50Ms)} | ${f(s.p99Ms)} | ${f(s.cpuUsPerRequest, 0)} | ${f(s.rssPeakMiB, 1)} | ${s.errors} |`,
    ),
    '',
    `Split of 100 sequential requests: ${Object.entries(splits)
      .map(([name, counts]) => `${name} ${JSON.stringify(counts)}`)
      .join('; ')}.`,
    `Per core: HAProxy's throughput is ${f(ratios.haproxyOverGatewayThroughput)}x the gateway's (goal: at most 2x); the gateway spends ${f(ratios.gatewayOverHaproxyCpuPerRequest)}x HAProxy's CPU per request. Added p99 at ${RATE} req/s over direct: gateway ${f(ratios.gatewayAddedP99MsAtRate)} ms (goal: at most 1 ms), HAProxy ${f(ratios.haproxyAddedP99MsAtRate)} ms.`,
    `Idle RSS before load: ${Object.entries(rssIdleMiB)
      .map(([name, mib]) => `${name} ${f(mib, 1)} MiB`)
      .join(', ')}.`,
    `${availableParallelism()} CPUs, Node ${process.version}, 1-min load average ${f(loadAverageBefore)} before, ${f(results.machine.loadAverageAfter)} after.`,
    ...(haproxy ? [] : ['HAProxy was not run: it is not installed.']),
  ].join('\n');
  const out = new URL('./results/', import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL('gateway.json', out), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('gateway.md', out), `# gateway benchmark\n\n${table}\n`);
  console.log(table);
} finally {
  await haproxy?.stop(1000);
  await gateway.stop();
  await Promise.all([stable.stop(), canary.stop()]);
}
