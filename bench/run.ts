// Runs the benchmark scenarios of this folder, one process each, and gathers what they wrote into
// bench/results/summary.md: the machine, every scenario's table, and the figures set against the
// targets of the project's issues.
//   node bench/run.ts                 every scenario this machine can run
//   node bench/run.ts hop-overhead    only those named
//   node bench/run.ts --summary-only  no runs: summary.md from the results already there
// Scenarios on the local cluster need root and take /tmp/pilotlight-cluster.lock (shared with the
// e2e tests) for their whole run; they bring the cluster up and down themselves.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { machine, markdownTable, readResults, resultFile, RESULTS_DIR } from './support/results.ts';

const CLUSTER_LOCK = '/tmp/pilotlight-cluster.lock';
// How long a cluster scenario waits for another user of the cluster (an e2e run) to finish.
const CLUSTER_LOCK_WAIT_SECONDS = 15 * 60;
// flock's exit code when the wait for the lock runs out, chosen apart from the scripts' own codes.
const LOCK_BUSY_EXIT = 75;

interface Scenario {
  name: string;
  script: string;
  /** 'local': processes on loopback (and a kube-apiserver from cached binaries); 'cluster': root and the local cluster. */
  needs: 'local' | 'cluster';
  measures: string;
  /** Longest a run may take before it is stopped. */
  timeoutMinutes: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'hop-overhead',
    script: 'hop-overhead.ts',
    needs: 'local',
    measures: 'latency each hop adds at fixed rates (k6), vs HAProxy',
    timeoutMinutes: 10,
  },
  {
    name: 'queue-proxy',
    script: 'queue-proxy.ts',
    needs: 'local',
    measures: 'queue-proxy added latency, CPU, memory',
    timeoutMinutes: 10,
  },
  {
    name: 'queue-proxy-start',
    script: 'queue-proxy-start.ts',
    needs: 'local',
    measures: 'queue-proxy spawn to listening and to its readiness answer, per way of running it',
    timeoutMinutes: 10,
  },
  {
    name: 'activator',
    script: 'activator.ts',
    needs: 'local',
    measures: 'activator added latency on the warm path',
    timeoutMinutes: 10,
  },
  {
    name: 'gateway',
    script: 'gateway.ts',
    needs: 'local',
    measures: 'gateway vs HAProxy throughput, latency, CPU, memory',
    timeoutMinutes: 10,
  },
  {
    name: 'gateway-routing',
    script: 'gateway-routing.ts',
    needs: 'local',
    measures: 'routing-table lookups per second',
    timeoutMinutes: 10,
  },
  {
    name: 'proxy-engines',
    script: 'proxy-engines.ts',
    needs: 'local',
    measures: 'undici Pool vs http.Agent as the proxy engine',
    timeoutMinutes: 10,
  },
  {
    name: 'reserved',
    script: 'reserved.ts',
    needs: 'local',
    measures: 'first request from zero, reserved instance and warm',
    timeoutMinutes: 15,
  },
  {
    name: 'autoscaler-reaction',
    script: 'autoscaler-reaction.ts',
    needs: 'local',
    measures: 'time from load to scaling decision',
    timeoutMinutes: 15,
  },
  {
    name: 'controlplane',
    script: 'controlplane.ts',
    needs: 'local',
    measures: 'time for 200 ksvcs to Ready, controller memory',
    timeoutMinutes: 15,
  },
  {
    name: 'coldstart',
    script: 'coldstart.ts',
    needs: 'cluster',
    measures: 'first request at zero on the local cluster',
    timeoutMinutes: 25,
  },
  {
    name: 'burst',
    script: 'burst.ts',
    needs: 'cluster',
    measures: '0→1k→2k→3k req/s from zero: errors, latency, replicas',
    timeoutMinutes: 25,
  },
  {
    name: 'rollout',
    script: 'rollout.ts',
    needs: 'cluster',
    measures: 'traffic share per revision and errors per second through canary and gradual rollouts',
    timeoutMinutes: 20,
  },
];

interface Outcome {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  detail: string;
  seconds: number;
}

const isRoot = process.getuid?.() === 0;

function runScenario(scenario: Scenario): Promise<Outcome> {
  const script = fileURLToPath(new URL(scenario.script, import.meta.url));
  const started = performance.now();
  const outcome = (status: Outcome['status'], detail: string): Outcome => ({
    name: scenario.name,
    status,
    detail,
    seconds: Math.round((performance.now() - started) / 1000),
  });
  if (!existsSync(script))
    return Promise.resolve(outcome('skipped', `bench/${scenario.script} is not in this checkout`));
  if (scenario.needs === 'cluster' && !isRoot)
    return Promise.resolve(outcome('skipped', 'needs root and the local cluster: run as root'));
  const [command, args] =
    scenario.needs === 'cluster'
      ? [
          'flock',
          [
            '-w',
            String(CLUSTER_LOCK_WAIT_SECONDS),
            '-E',
            String(LOCK_BUSY_EXIT),
            CLUSTER_LOCK,
            process.execPath,
            script,
          ],
        ]
      : [process.execPath, [script]];
  console.log(
    `\n=== ${scenario.name}: ${scenario.measures} (${command === 'flock' ? `under ${CLUSTER_LOCK}` : 'local processes'})`,
  );
  // Its own process group, so a run that outlives its time is stopped with everything it started.
  const child = spawn(command, args, { stdio: 'inherit', detached: true });
  const stopGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  const onInterrupt = () => {
    stopGroup('SIGTERM');
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stopGroup('SIGTERM');
    setTimeout(() => stopGroup('SIGKILL'), 30_000).unref();
  }, scenario.timeoutMinutes * 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', onInterrupt);
      if (timedOut) resolve(outcome('failed', `stopped after ${scenario.timeoutMinutes} min`));
      else if (code === 0) resolve(outcome('ok', ''));
      else if (scenario.needs === 'cluster' && code === LOCK_BUSY_EXIT)
        resolve(outcome('skipped', `${CLUSTER_LOCK} stayed busy for ${CLUSTER_LOCK_WAIT_SECONDS / 60} min`));
      else resolve(outcome('failed', signal ? `killed by ${signal}` : `exit code ${code}`));
    }),
  );
}

// The few figures of each results file the targets are judged on. Each benchmark owns its JSON;
// these schemas name only what is read here, so other fields may change freely.
const stat = z.object({ p50: z.number() });
const QueueProxyTargets = z.object({
  addedP99AtRateMs: z.object({ measured: z.number() }),
  rssMiB: z.object({ measured: z.number() }),
  workingSetAtRateMiB: z.object({ measured: z.number() }).optional(),
});
// One set of targets, or one per way of running queue-proxy (sources, compiled image, flags).
const QueueProxyResults = z.union([
  // A reference variant (a minimal proxy, or a way the pod does not run queue-proxy) is not judged.
  z
    .object({
      variants: z.array(
        z.object({ variant: z.string(), reference: z.boolean().optional(), targets: QueueProxyTargets }),
      ),
    })
    .transform((r) => r.variants.filter((v) => !v.reference)),
  z.object({ targets: QueueProxyTargets }).transform((r) => [{ variant: undefined, targets: r.targets }]),
]);
const ActivatorResults = z.object({
  targets: z.object({ activatorAddedP99AtRateMs: z.object({ measured: z.number() }) }),
});
const GatewayResults = z.object({
  summaries: z.array(z.object({ scenario: z.string(), target: z.string(), cpuUsPerRequest: z.number().optional() })),
});
const HopResults = z.object({
  runs: z.array(
    z.object({
      rate: z.number(),
      path: z.string(),
      droppedIterations: z.number(),
      latencyMs: z.object({ p99: z.number() }),
      hops: z.array(z.object({ name: z.string(), cpuUsPerRequest: z.number(), rssPeakMiB: z.number() })),
    }),
  ),
  rounds: z.array(
    z.object({ round: z.number(), rate: z.number(), path: z.string(), latencyMs: z.object({ p99: z.number() }) }),
  ),
});
const ColdstartResults = z.object({ coldMs: stat, appStartMs: stat });
const ReservedResults = z.object({
  firstRequestMs: z.object({ zero: stat, reserved: stat, warm: stat }),
  appStartMs: stat,
});

function results<T>(name: string, schema: z.ZodType<T, unknown>): T | undefined {
  const parsed = schema.safeParse(readResults(`${name}.json`));
  return parsed.success ? parsed.data : undefined;
}

interface TargetRow {
  target: string;
  source: string;
  /** The figure, in the unit the target is stated in; undefined when the source was not run. */
  measured: number | undefined;
  limit: number;
  /** True when the limit is strict (<), false for ≤. */
  strict?: boolean;
  unit: string;
  /** Why the figure may say more about the machine than about pilotlight. */
  caveat?: string;
}

/** The issue's "under 60 MB"; the benchmarks report MiB. */
const QUEUE_PROXY_RSS_LIMIT_MIB = 60e6 / 2 ** 20;
const QUEUE_PROXY_RSS_TARGET = `queue-proxy RSS < 60 MB (${QUEUE_PROXY_RSS_LIMIT_MIB.toFixed(1)} MiB)`;

function targetRows(): TargetRow[] {
  const qp = results('queue-proxy', QueueProxyResults);
  const activator = results('activator', ActivatorResults);
  const gateway = results('gateway', GatewayResults);
  const hop = results('hop-overhead', HopResults);
  const cold = results('coldstart', ColdstartResults);
  const reserved = results('reserved', ReservedResults);

  const hopRun = (rate: number, path: string) => hop?.runs.find((r) => r.rate === rate && r.path === path);
  // As the scenario's own "added" column: the median over rounds of the difference within a round.
  const p99Over = (rate: number, path: string, over: string) => {
    const differences = (hop?.rounds ?? []).flatMap((a) => {
      const b =
        a.rate === rate &&
        a.path === path &&
        hop!.rounds.find((r) => r.round === a.round && r.rate === rate && r.path === over);
      return b ? [a.latencyMs.p99 - b.latencyMs.p99] : [];
    });
    return differences.length === 0 ? undefined : differences.sort((x, y) => x - y)[Math.floor(differences.length / 2)];
  };
  // k6 drops an iteration when every VU is busy: requests took far longer than the hold.
  const overloaded = (rate: number, ...paths: string[]) => {
    const dropped = paths.reduce((sum, path) => sum + (hopRun(rate, path)?.droppedIterations ?? 0), 0);
    return dropped > 0
      ? `k6 could not send ${dropped} requests on time at ${rate} req/s (a saturated machine or a stalled path)`
      : undefined;
  };
  const hopCost = (rate: number, path: string, hopName: string) =>
    hopRun(rate, path)?.hops.find((h) => h.name === hopName);
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? undefined : a / b;
  const gatewayCpu = (target: (name: string) => boolean) =>
    gateway?.summaries.find((s) => s.scenario.startsWith('closed loop') && target(s.target))?.cpuUsPerRequest;
  const qpRss =
    hop &&
    Math.max(0, ...hop.runs.flatMap((r) => r.hops.filter((h) => h.name === 'queue-proxy').map((h) => h.rssPeakMiB)));

  return [
    ...(qp ?? [{ variant: undefined, targets: undefined }]).map(({ variant, targets }) => ({
      target: 'queue-proxy adds ≤ 1 ms p99 at 500 req/s',
      source: `queue-proxy (undici, no hold${variant ? `; ${variant}` : ''})`,
      measured: targets?.addedP99AtRateMs.measured,
      limit: 1,
      unit: 'ms',
    })),
    {
      target: 'queue-proxy adds ≤ 1 ms p99 at 500 req/s',
      source: 'hop-overhead (k6, 100 ms hold)',
      measured: p99Over(500, 'queue-proxy', 'direct'),
      limit: 1,
      unit: 'ms',
      caveat: overloaded(500, 'queue-proxy', 'direct'),
    },
    ...(qp ?? [{ variant: undefined, targets: undefined }]).map(({ variant, targets }) => ({
      target: QUEUE_PROXY_RSS_TARGET,
      source: `queue-proxy (peak${variant ? `; ${variant}` : ''})`,
      measured: targets?.rssMiB.measured,
      limit: QUEUE_PROXY_RSS_LIMIT_MIB,
      strict: true,
      unit: 'MiB',
    })),
    ...(qp ?? [{ variant: undefined, targets: undefined }]).map(({ variant, targets }) => ({
      target: 'queue-proxy working set ≤ 20 MiB at 500 req/s',
      source: `queue-proxy (own memory cgroup, peak${variant ? `; ${variant}` : ''})`,
      measured: targets?.workingSetAtRateMiB?.measured,
      limit: 20,
      unit: 'MiB',
    })),
    {
      target: QUEUE_PROXY_RSS_TARGET,
      source: 'hop-overhead (peak; run from the .ts sources, which type stripping makes ≈35 MiB larger)',
      measured: qpRss || undefined,
      limit: QUEUE_PROXY_RSS_LIMIT_MIB,
      strict: true,
      unit: 'MiB',
    },
    {
      target: 'activator adds ≤ 2 ms p99',
      source: 'activator (500 req/s, no hold)',
      measured: activator?.targets.activatorAddedP99AtRateMs.measured,
      limit: 2,
      unit: 'ms',
    },
    {
      target: 'activator adds ≤ 2 ms p99',
      source: 'hop-overhead (500 req/s, over queue-proxy)',
      measured: p99Over(500, 'activator + queue-proxy', 'queue-proxy'),
      limit: 2,
      unit: 'ms',
      caveat: overloaded(500, 'activator + queue-proxy', 'queue-proxy'),
    },
    {
      target: 'activator adds ≤ 2 ms p99',
      source: 'hop-overhead (1000 req/s, over queue-proxy)',
      measured: p99Over(1000, 'activator + queue-proxy', 'queue-proxy'),
      limit: 2,
      unit: 'ms',
      caveat: overloaded(1000, 'activator + queue-proxy', 'queue-proxy'),
    },
    {
      target: "gateway CPU per request ≤ 2x HAProxy's (throughput per core within 2x)",
      source: 'gateway (closed loop)',
      measured: ratio(
        gatewayCpu((t) => t.includes('pilotlight')),
        gatewayCpu((t) => t.startsWith('HAProxy')),
      ),
      limit: 2,
      unit: 'x',
    },
    {
      target: "gateway CPU per request ≤ 2x HAProxy's (throughput per core within 2x)",
      source: 'hop-overhead (1000 req/s)',
      measured: ratio(
        hopCost(1000, 'gateway + queue-proxy', 'gateway')?.cpuUsPerRequest,
        hopCost(1000, 'HAProxy + queue-proxy', 'HAProxy')?.cpuUsPerRequest,
      ),
      limit: 2,
      unit: 'x',
    },
    {
      target: 'gateway adds ≤ 1 ms p99 at 1,000 req/s',
      source: 'hop-overhead (over queue-proxy)',
      measured: p99Over(1000, 'gateway + queue-proxy', 'queue-proxy'),
      limit: 1,
      unit: 'ms',
      caveat: overloaded(1000, 'gateway + queue-proxy', 'queue-proxy'),
    },
    {
      target: "cold start ≤ 2x the app's start",
      source: 'coldstart (local cluster, p50)',
      measured: ratio(cold?.coldMs.p50, cold?.appStartMs.p50),
      limit: 2,
      unit: 'x',
    },
    {
      target: "cold start ≤ 2x the app's start",
      source: 'reserved (processes, from zero, p50)',
      measured: ratio(reserved?.firstRequestMs.zero.p50, reserved?.appStartMs.p50),
      limit: 2,
      unit: 'x',
    },
    {
      target: 'reserved instance first request ≤ 2x warm',
      source: 'reserved (p50)',
      measured: ratio(reserved?.firstRequestMs.reserved.p50, reserved?.firstRequestMs.warm.p50),
      limit: 2,
      unit: 'x',
    },
  ];
}

const met = (row: TargetRow) =>
  row.measured !== undefined && (row.strict ? row.measured < row.limit : row.measured <= row.limit);

function targetsSection(rows: TargetRow[]): string {
  const figure = (n: number, unit: string) =>
    `${n.toFixed(unit === 'x' ? 2 : unit === 'MiB' ? 1 : 2)}${unit === 'x' ? 'x' : ` ${unit}`}`;
  const table = markdownTable(
    ['target', 'measured by', 'measured', 'verdict'],
    rows.map((row) => [
      row.target,
      row.source,
      row.measured === undefined ? 'not run' : figure(row.measured, row.unit),
      row.measured === undefined
        ? ''
        : row.caveat
          ? `inconclusive: ${row.caveat}`
          : met(row)
            ? 'met'
            : `**missed** (${(row.measured / row.limit).toFixed(1)}x the limit)`,
    ]),
    [false, false, true, false],
  );
  // A figure taken on an overloaded machine is reported, but not named as the gap to close.
  const missed = rows.filter((row) => row.measured !== undefined && !met(row) && row.caveat === undefined);
  const worst = missed.sort((a, b) => b.measured! / b.limit - a.measured! / a.limit)[0];
  const gap = worst
    ? `Biggest gap: ${worst.target} — ${figure(worst.measured!, worst.unit)} by ${worst.source}, ${(worst.measured! / worst.limit).toFixed(1)}x the limit.`
    : 'Every target that was measured conclusively is met.';
  const inconclusive = rows.filter((row) => row.measured !== undefined && row.caveat !== undefined).length;
  const rerun =
    inconclusive > 0
      ? ` ${inconclusive} figure(s) inconclusive because the load generator fell behind: rerun on a quieter machine.`
      : '';
  return `${table}\n\n${gap}${rerun}`;
}

function scenarioSection(scenario: Scenario, outcome: Outcome | undefined): string {
  const md = resultFile(`${scenario.name}.md`);
  const heading = `## ${scenario.name}: ${scenario.measures}`;
  if (!existsSync(md))
    return `${heading}\n\nNo results${outcome ? ` (${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ''})` : ''}. Run \`npm run bench -- ${scenario.name}\`${scenario.needs === 'cluster' ? ' as root' : ''}.`;
  // A scenario's own title is replaced by this section's heading.
  const body = readFileSync(md, 'utf8')
    .replace(/^# .*\n+/, '')
    .trimEnd();
  const when =
    outcome?.status === 'ok'
      ? 'this run'
      : `an earlier run, ${statSync(md).mtime.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const png = existsSync(resultFile(`${scenario.name}.png`)) ? `\n\n![${scenario.name}](${scenario.name}.png)` : '';
  return `${heading}\n\nFrom ${when}.\n\n${body}${png}`;
}

const { values: flags, positionals: requested } = parseArgs({
  allowPositionals: true,
  options: { 'summary-only': { type: 'boolean', default: false } },
});
const unknown = requested.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = flags['summary-only']
  ? []
  : requested.length === 0
    ? SCENARIOS
    : SCENARIOS.filter((s) => requested.includes(s.name));
const outcomes: Outcome[] = [];
for (const scenario of chosen) {
  const outcome = await runScenario(scenario);
  if (outcome.status === 'skipped') console.log(`\n=== ${scenario.name}: skipped, ${outcome.detail}`);
  outcomes.push(outcome);
}

const m = machine();
const outcomeOf = (name: string) => outcomes.find((o) => o.name === name);
const summary = [
  '# pilotlight benchmarks',
  '',
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node} (1-min load average ${m.loadAverage1m.toFixed(2)} at the end). ` +
    'Load generator, proxies and apps share these CPUs, and other work on the machine shows in the tails.',
  '',
  '## This run',
  '',
  outcomes.length === 0
    ? 'No scenario was run; the figures below are from earlier runs.'
    : markdownTable(
        ['scenario', 'result', 'seconds', 'note'],
        outcomes.map((o) => [o.name, o.status, o.seconds, o.detail]),
        [false, false, true, false],
      ),
  '',
  '## Targets',
  '',
  targetsSection(targetRows()),
  '',
  ...SCENARIOS.flatMap((scenario) => [scenarioSection(scenario, outcomeOf(scenario.name)), '']),
].join('\n');
writeFileSync(new URL('summary.md', RESULTS_DIR), summary);
console.log(`\nwrote ${fileURLToPath(new URL('summary.md', RESULTS_DIR))}`);
process.exitCode = outcomes.some((o) => o.status === 'failed') ? 1 : 0;
