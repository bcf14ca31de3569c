// Rollouts under load on the local cluster, second by second: k6 sends a fixed arrival rate
// through the gateway to a Service of the autoscale sample while its second revision rolls in,
// four ways (harness/rolloutTimeline.ts runs each):
//   good      canary analysis (steps 5,25,50; 10 s interval): promoted through every step
//   failing   the same, the new revision answering 500 to 20 % of requests: rolled back
//   slow      the same with max-p99-increase 200ms, the new revision 300 ms slower: rolled back
//   gradual   Knative's rollout-duration 60s, no analysis: the traffic moves in upstream's steps
// Per case: each revision's share of the answers and the error rate per second, the p99 per
// second, the split the Service showed, and every decision the controller took (its Events).
// Needs root. Uses the cluster `pilotlight up` runs when there is one, else brings its own up and
// down; run it through `npm run bench -- rollout`, which holds /tmp/pilotlight-cluster.lock.
//   node bench/rollout.ts [--cases good,failing,slow,gradual] [--rate 100]
// Writes bench/results/rollout.{json,md} and rollout-<case>.png.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  allTotals,
  runRolloutTimeline,
  totals,
  type RolloutCase,
  type RolloutTimeline,
} from '../harness/rolloutTimeline.ts';
import { k6Binary } from './support/k6.ts';
import { clusterForBenchmark } from './support/localCluster.ts';
import { PALETTE, writeFigurePng } from './support/plot.ts';
import { machine, markdownTable, resultFile, writeResults } from './support/results.ts';

// Its own per run: a cluster used as is may still be deleting the last run's.
const NAMESPACE = `bench-rollout-${randomBytes(3).toString('hex')}`;
const GATEWAY_URL = 'http://127.0.0.1:31080/';
const INTERVAL_SECONDS = 10;
const analysis = (extra: Record<string, string> = {}) => ({
  'canary.pilotlight.dev/steps': '5,25,50',
  'canary.pilotlight.dev/interval': `${INTERVAL_SECONDS}s`,
  'canary.pilotlight.dev/max-error-rate': '5%',
  'canary.pilotlight.dev/min-requests': '20',
  'canary.pilotlight.dev/max-failures': '2',
  ...extra,
});
const CASES: Record<string, { what: string; case: RolloutCase; maxSeconds: number }> = {
  good: {
    what: 'canary analysis, a good revision',
    case: { service: 'good', annotations: analysis(), newRevisionEnv: {} },
    maxSeconds: 120,
  },
  failing: {
    what: 'canary analysis, a revision failing 20%',
    case: { service: 'failing', annotations: analysis(), newRevisionEnv: { FAIL_PERCENT: '20' } },
    maxSeconds: 90,
  },
  slow: {
    what: 'canary analysis (max-p99-increase 200ms), a revision 300 ms slower',
    case: {
      service: 'slow',
      annotations: analysis({ 'canary.pilotlight.dev/max-p99-increase': '200ms' }),
      newRevisionEnv: { DELAY_MS: '300' },
    },
    maxSeconds: 90,
  },
  gradual: {
    what: "Knative's gradual rollout, rollout-duration 60s",
    case: {
      service: 'gradual',
      annotations: { 'serving.knative.dev/rollout-duration': '60s' },
      newRevisionEnv: {},
    },
    maxSeconds: 120,
  },
};

const Options = z.object({
  cases: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(Object.keys(CASES) as [string, ...string[]])).min(1)),
  rate: z.coerce.number().int().positive(),
});
const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: Object.keys(CASES).join(',') },
    rate: { type: 'string', default: '100' },
  },
});
const options = Options.parse(values);

const percent = (part: number, whole: number) => (whole === 0 ? 0 : (100 * part) / whole);

function summarize(name: string, timeline: RolloutTimeline) {
  const stable = totals(timeline.seconds, timeline.stable);
  const canary = totals(timeline.seconds, timeline.canary);
  const all = allTotals(timeline.seconds);
  return {
    case: name,
    outcome: timeline.outcome,
    rolloutSeconds:
      timeline.settledAt === undefined
        ? undefined
        : Math.round((timeline.settledAt - timeline.newRevisionAppliedAt) * 10) / 10,
    requests: all.requests,
    failed: all.errors,
    failedByStable: stable.errors,
    failedByCanary: canary.errors,
    failedWithoutRevision: all.errors - stable.errors - canary.errors,
    canaryRequests: canary.requests,
    p99Ms: timeline.k6.latencyMs.p99,
    droppedIterations: timeline.k6.droppedIterations,
    decisions: timeline.events.length,
  };
}

function plot(name: string, what: string, timeline: RolloutTimeline): void {
  const x = [0, timeline.seconds.length] as const;
  const xLabel = 'seconds since the load began';
  const share = (revision: string) =>
    timeline.seconds.map(
      (s) => [s.second + 0.5, percent(s.byRevision[revision]?.requests ?? 0, allTotals([s]).requests)] as const,
    );
  // The split the Service showed, as steps: each value holds until the next.
  const programmed = timeline.programmed.flatMap((p, i) => {
    const until = timeline.programmed[i + 1]?.second ?? timeline.seconds.length;
    const value = p.percents[timeline.canary] ?? 0;
    return [[p.second, value] as const, [until, value] as const];
  });
  // Each decision on the canary's share it led to: what k6 saw two seconds later.
  const canaryShare = share(timeline.canary);
  const decisions = timeline.events.map((e) => {
    const after = canaryShare[Math.min(canaryShare.length - 1, Math.floor(e.second) + 2)];
    return [e.second, after?.[1] ?? 0] as const;
  });
  writeFigurePng(resultFile(`rollout-${name}.png`), {
    panelHeight: 300,
    panels: [
      {
        title: `${what}: share of the answers per revision`,
        xLabel,
        yLabel: '% of answers',
        x,
        y: [0, 100],
        series: [
          { name: timeline.stable, color: PALETTE[0], points: share(timeline.stable) },
          { name: timeline.canary, color: PALETTE[2], points: canaryShare },
          { name: `${timeline.canary} in status`, color: PALETTE[2], dashed: true, points: programmed },
          { name: 'decisions (Events)', color: PALETTE[4], markersOnly: true, points: decisions },
        ],
      },
      {
        title: 'Error rate per second (non-200 answers)',
        xLabel,
        yLabel: '% failed',
        x,
        series: [
          {
            name: 'all answers',
            color: PALETTE[1],
            points: timeline.seconds.map((s) => {
              const all = allTotals([s]);
              return [s.second + 0.5, percent(all.errors, all.requests)] as const;
            }),
          },
          {
            name: `${timeline.canary}'s own`,
            color: PALETTE[3],
            dashed: true,
            points: timeline.seconds
              .filter((s) => (s.byRevision[timeline.canary]?.requests ?? 0) > 0)
              .map((s) => {
                const own = s.byRevision[timeline.canary]!;
                return [s.second + 0.5, percent(own.errors, own.requests)] as const;
              }),
          },
        ],
      },
      {
        title: 'p99 latency per second (all answers)',
        xLabel,
        yLabel: 'ms',
        x,
        series: [
          {
            name: 'p99',
            color: PALETTE[5],
            points: timeline.seconds
              .filter((s) => s.p99Ms !== undefined)
              .map((s) => [s.second + 0.5, s.p99Ms!] as const),
          },
        ],
      },
    ],
  });
}

const cluster = await clusterForBenchmark('rollout');
try {
  await cluster.kubectl(['create', 'namespace', NAMESPACE]);
  const k6 = await k6Binary();
  const timelines: Record<string, RolloutTimeline> = {};
  for (const name of options.cases) {
    const { case: c, maxSeconds, what } = CASES[name]!;
    console.error(`rollout: ${name} (${what})`);
    timelines[name] = await runRolloutTimeline(
      { kubectl: cluster.kubectl, k6, namespace: NAMESPACE, gatewayUrl: GATEWAY_URL, log: console.error },
      c,
      { rate: options.rate, leadSeconds: 5, tailSeconds: 8, maxSeconds },
    );
    plot(name, what, timelines[name]!);
  }
  const summaries = Object.entries(timelines).map(([name, t]) => summarize(name, t));
  const results = {
    machine: machine(),
    method:
      `k6 constant-arrival-rate ${options.rate} req/s through the gateway (${GATEWAY_URL}) to a Service of the autoscale sample, one pod per revision; ` +
      'the second revision applied 5 s in; answers counted per second by revision (Knative-Serving-Revision) and status; ' +
      'the Service read every second until the new revision serves all traffic or is rolled back, then 8 s more',
    rate: options.rate,
    cases: Object.fromEntries(
      Object.entries(timelines).map(([name, t]) => [
        name,
        {
          what: CASES[name]!.what,
          annotations: CASES[name]!.case.annotations,
          newRevisionEnv: CASES[name]!.case.newRevisionEnv,
          summary: summarize(name, t),
          timeline: t,
        },
      ]),
    ),
  };
  const table = markdownTable(
    [
      'case',
      'outcome',
      'rollout s',
      'requests',
      'failed',
      'by stable / canary / none',
      'canary requests',
      'p99 ms',
      'decisions',
    ],
    summaries.map((s) => [
      s.case,
      s.outcome,
      s.rolloutSeconds ?? '—',
      s.requests,
      s.failed,
      `${s.failedByStable} / ${s.failedByCanary} / ${s.failedWithoutRevision}`,
      s.canaryRequests,
      s.p99Ms.toFixed(0),
      s.decisions,
    ]),
  );
  const decisionLines = Object.entries(timelines).flatMap(([name, t]) => [
    '',
    `## ${name}: ${CASES[name]!.what}`,
    '',
    `Split shown by the Service: ${t.programmed.map((p) => `${p.second} s ${JSON.stringify(p.percents)}`).join(' → ')}.`,
    '',
    ...(t.events.length === 0
      ? ['No Events.']
      : t.events.map((e) => `- ${e.second} s ${e.type} ${e.reason}: ${e.message}`)),
    '',
    `![${name}](rollout-${name}.png)`,
  ]);
  const m = results.machine;
  const markdown = [
    '# rollouts under load',
    '',
    table,
    '',
    `${options.rate} req/s; "rollout s" from applying the new revision to the Service serving it alone or rolled back; failed requests by who answered them. ` +
      `k6, the cluster and every pod share ${m.cpus} × ${m.cpuModel}; Node ${m.node}, load ${m.loadAverage1m.toFixed(2)}.`,
    ...decisionLines,
  ].join('\n');
  writeResults('rollout', results, markdown);
  console.log(markdown);
} finally {
  await cluster.kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => {});
  await cluster.release();
}
