// pilotlight's canary analysis on the local cluster under a constant k6 load (50 req/s through
// the gateway), with short intervals so each case takes about a minute: a good new revision is
// promoted through every step without a failed request; one that answers 500 to 20 % of its
// requests is rolled back, and the only failures k6 saw are those it answered while it had its
// share; a slower one (p99 +300 ms against a 200 ms limit) is rolled back on latency. Each case's
// decisions are Events on the Service and lines in the controller's log, with the figures.
// Uses the cluster `pilotlight up` runs when there is one (and leaves it running), else brings
// its own up and down. Needs root; run with `npm run test:e2e -- test/e2e/canary.test.ts`.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allTotals,
  runRolloutTimeline,
  totals,
  type RolloutCase,
  type RolloutTimeline,
} from '../../harness/rolloutTimeline.ts';
import { GATEWAY, localCluster, repo, run, runningCluster, type LocalCluster } from './localCluster.ts';

// Its own per run: a cluster used as is may still be deleting the last run's.
const NAMESPACE = `e2e-canary-${randomBytes(3).toString('hex')}`;
const RATE = 50;
const INTERVAL_SECONDS = 10;
const MAX_FAILURES = 2;
const FIRST_STEP = 10;
const LOAD = { rate: RATE, leadSeconds: 5, tailSeconds: 6, maxSeconds: 150 };
// Beyond max-failures × interval at the first step: the reconcile that reads the figures, the
// KIngress update and the gateway applying it.
const ROLLBACK_SLACK_SECONDS = 5;
const FAIL_PERCENT = 20;
const SPLIT_EDGE_SECONDS = 3;

let cluster: LocalCluster;
let ownCluster = false;
let k6 = '';
const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);

const canaryAnnotations = (extra: Record<string, string> = {}) => ({
  'canary.pilotlight.dev/steps': `${FIRST_STEP},50`,
  'canary.pilotlight.dev/interval': `${INTERVAL_SECONDS}s`,
  'canary.pilotlight.dev/max-error-rate': '5%',
  'canary.pilotlight.dev/min-requests': '20',
  'canary.pilotlight.dev/max-failures': String(MAX_FAILURES),
  ...extra,
});

async function rollout(c: RolloutCase): Promise<RolloutTimeline> {
  const timeline = await runRolloutTimeline(
    { kubectl, k6, namespace: NAMESPACE, gatewayUrl: `http://${GATEWAY.host}:${GATEWAY.port}/`, log: console.log },
    c,
    LOAD,
  );
  const stable = totals(timeline.seconds, timeline.stable);
  const canary = totals(timeline.seconds, timeline.canary);
  const none = totals(timeline.seconds, null);
  console.log(
    [
      `${c.service}: ${timeline.outcome} at ${timeline.settledAt} s (${timeline.canary} applied at ${timeline.newRevisionAppliedAt} s)`,
      `  k6: ${timeline.stable} ${stable.requests} requests / ${stable.errors} errors, ${timeline.canary} ${canary.requests} / ${canary.errors}, without a revision ${none.requests} / ${none.errors}; dropped ${timeline.k6.droppedIterations}; p50 ${timeline.k6.latencyMs.p50.toFixed(1)} ms, p99 ${timeline.k6.latencyMs.p99.toFixed(1)} ms`,
      `  split: ${timeline.programmed.map((p) => `${p.second}s ${JSON.stringify(p.percents)}`).join(' → ')}`,
      ...timeline.events.map((e) => `  ${e.second}s ${e.type} ${e.reason}: ${e.message}`),
    ].join('\n'),
  );
  return timeline;
}

/** The canary's requests and 5xx share in a check's message, as judge() words them. */
function checkFigures(message: string, timeline: RolloutTimeline): { requests: number; errorPercent: number } {
  const match = new RegExp(`${timeline.canary}: (\\d+) requests \\(min 20\\), 5xx (\\d+\\.\\d)% \\(max 5\\.0%\\)`).exec(
    message,
  );
  expect(match, message).not.toBeNull();
  return { requests: Number(match![1]), errorPercent: Number(match![2]) };
}

const reasons = (decisions: { reason: string }[]) => decisions.map((d) => d.reason);
const condition = (timeline: RolloutTimeline, type: string) => timeline.conditions.find((c) => c.type === type);

/** Each Event is also a controller log line with the same reason and message. */
function expectLogged(timeline: RolloutTimeline): void {
  for (const event of timeline.events)
    expect(timeline.controllerLog.map((l) => [l.reason, l.message])).toContainEqual([event.reason, event.message]);
}

/**
 * The share of the canary k6 saw over the seconds a split was served, a few seconds left out at
 * each end: the status is read once a second, and the gateway applies a split a moment before or
 * after the Route reports it.
 */
function servedShares(timeline: RolloutTimeline): Array<{ percent: number; served: number; requests: number }> {
  return timeline.programmed.flatMap((p, i) => {
    const percent = p.percents[timeline.canary];
    const until = timeline.programmed[i + 1]?.second ?? timeline.settledAt ?? 0;
    if (percent === undefined || percent === 100) return [];
    const seconds = timeline.seconds.filter(
      (s) => s.second > p.second + SPLIT_EDGE_SECONDS && s.second < until - SPLIT_EDGE_SECONDS,
    );
    const canary = totals(seconds, timeline.canary).requests;
    const requests = allTotals(seconds).requests;
    return requests === 0 ? [] : [{ percent, served: (100 * canary) / requests, requests }];
  });
}

beforeAll(async () => {
  const running = await runningCluster();
  ownCluster = running === undefined;
  cluster = running ?? (await localCluster('pilotlight-e2e-canary'));
  const [tool] = await Promise.all([
    run('bash', [join(repo, 'hack', 'build-tool.sh'), 'k6'], {
      encoding: 'utf8',
      timeout: 1_800_000,
      maxBuffer: 16 * 1024 * 1024,
    }),
    ownCluster ? cluster.pilotlight('up', '--local') : undefined,
  ]);
  k6 = tool.stdout.trim().split('\n').at(-1)!;
  await kubectl(['create', 'namespace', NAMESPACE]);
}, 1_800_000);

afterAll(async () => {
  if (!ownCluster) await kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => {});
  await cluster?.dispose();
}, 120_000);

describe('canary analysis under k6 load', () => {
  it('a good new revision is promoted step by step to 100% without a failed request', async () => {
    const timeline = await rollout({ service: 'good', annotations: canaryAnnotations(), newRevisionEnv: {} });
    expect(timeline.outcome).toBe('promoted');
    expect(timeline.programmed.map((p) => p.percents)).toEqual([
      { [timeline.stable]: 100 },
      { [timeline.stable]: 90, [timeline.canary]: 10 },
      { [timeline.stable]: 50, [timeline.canary]: 50 },
      { [timeline.canary]: 100 },
    ]);
    for (const { percent, served } of servedShares(timeline)) expect(Math.abs(served - percent)).toBeLessThanOrEqual(5);
    expect(allTotals(timeline.seconds).errors).toBe(0);
    const last = timeline.seconds.filter((s) => s.second > (timeline.settledAt ?? 0) + 1);
    expect(last.length).toBeGreaterThan(0);
    expect(totals(last, timeline.canary).requests).toBe(allTotals(last).requests);

    expect(reasons(timeline.events)).toEqual(['CanaryStarted', 'CanaryAdvanced', 'Succeeded']);
    expect(timeline.events[1]!.message).toMatch(
      new RegExp(
        `^Check passed at 10%: ${timeline.canary}: \\d+ requests \\(min 20\\), 5xx 0\\.0% \\(max 5\\.0%\\), p99 \\d+ms vs ${timeline.stable} \\d+ms; "${timeline.canary}" now takes 50%\\.$`,
      ),
    );
    expect(timeline.events[2]!.message).toMatch(/^Check passed at 50%: .*takes all traffic\.$/);
    expectLogged(timeline);
    expect(condition(timeline, 'CanaryReady')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(condition(timeline, 'Ready')?.status).toBe('True');
  });

  it('a revision failing 20% of requests is rolled back; k6 saw only the failures it answered while it had traffic', async () => {
    const timeline = await rollout({
      service: 'failing',
      annotations: canaryAnnotations(),
      newRevisionEnv: { FAIL_PERCENT: String(FAIL_PERCENT) },
    });
    expect(timeline.outcome).toBe('rolledBack');
    expect(timeline.programmed.map((p) => p.percents)).toEqual([
      { [timeline.stable]: 100 },
      { [timeline.stable]: 90, [timeline.canary]: 10 },
      { [timeline.stable]: 100 },
    ]);
    const stable = totals(timeline.seconds, timeline.stable);
    const canary = totals(timeline.seconds, timeline.canary);
    // Every failure is one the canary answered (its every fifth), none the stable revision's or the gateway's.
    expect(stable.errors).toBe(0);
    expect(totals(timeline.seconds, null)).toEqual({ requests: 0, errors: 0 });
    expect(canary.errors).toBe(Math.floor((canary.requests * FAIL_PERCENT) / 100));
    expect(allTotals(timeline.seconds).errors).toBe(canary.errors);
    // The bound: the canary had its first step's share for at most max-failures intervals (and the slack).
    const bound =
      (FAIL_PERCENT / 100) * (FIRST_STEP / 100) * RATE * (MAX_FAILURES * INTERVAL_SECONDS + ROLLBACK_SLACK_SECONDS);
    console.log(
      `failing: ${canary.errors} failed requests of ${canary.requests} answered by ${timeline.canary}, bound ${bound.toFixed(1)}`,
    );
    expect(canary.errors).toBeGreaterThan(0);
    expect(canary.errors).toBeLessThanOrEqual(bound);
    const after = timeline.seconds.filter((s) => s.second > (timeline.settledAt ?? 0) + 1);
    expect(after.length).toBeGreaterThan(0);
    expect(totals(after, timeline.stable).requests).toBe(allTotals(after).requests);

    expect(reasons(timeline.events)).toEqual(['CanaryStarted', 'CanaryCheckFailed', 'RolledBack']);
    const checkFailed = timeline.events[1]!;
    const rolledBack = timeline.events[2]!;
    expect(checkFailed.message).toMatch(/^Check failed at 10% \(1 of 2 allowed\): /);
    expect(rolledBack.type).toBe('Warning');
    expect(rolledBack.message).toMatch(
      new RegExp(`^Rolled back "${timeline.canary}" to "${timeline.stable}" after 2 failed checks: `),
    );
    // The gateway's window holds a run of the canary's answers: a fifth of them failed, give or take one.
    for (const { message } of [checkFailed, rolledBack]) {
      const { requests, errorPercent } = checkFigures(message, timeline);
      expect(requests).toBeGreaterThanOrEqual(20);
      expect(Math.abs((errorPercent / 100) * requests - requests / 5), message).toBeLessThanOrEqual(1);
    }
    expectLogged(timeline);
    expect(condition(timeline, 'CanaryReady')).toMatchObject({
      status: 'False',
      reason: 'RolledBack',
      message: rolledBack.message,
    });
    expect(condition(timeline, 'Ready')).toMatchObject({ status: 'False', reason: 'RolledBack' });
  });

  it('a revision 300 ms slower is rolled back on its p99, without a failed request', async () => {
    const timeline = await rollout({
      service: 'slow',
      annotations: canaryAnnotations({ 'canary.pilotlight.dev/max-p99-increase': '200ms' }),
      newRevisionEnv: { DELAY_MS: '300' },
    });
    expect(timeline.outcome).toBe('rolledBack');
    expect(allTotals(timeline.seconds).errors).toBe(0);
    // The p99 of a few dozen requests against the stable revision's is noisy on a loaded machine: a
    // check may pass (the canary advances) before two fail. Each failed one is on latency alone.
    const decided = reasons(timeline.events);
    expect(decided[0]).toBe('CanaryStarted');
    expect(decided.slice(1, -2).every((reason) => reason === 'CanaryAdvanced')).toBe(true);
    expect(decided.slice(-2)).toEqual(['CanaryCheckFailed', 'RolledBack']);
    for (const { message } of timeline.events.slice(-2)) {
      const p99 = /5xx 0\.0% \(max 5\.0%\), p99 (\d+)ms vs \S+ (\d+)ms \(max \+200ms\)\.$/.exec(message);
      expect(p99, message).not.toBeNull();
      expect(Number(p99![1]) - Number(p99![2]), message).toBeGreaterThan(200);
    }
    expectLogged(timeline);
    expect(condition(timeline, 'CanaryReady')).toMatchObject({ status: 'False', reason: 'RolledBack' });
    const after = timeline.seconds.filter((s) => s.second > (timeline.settledAt ?? 0) + 1);
    expect(totals(after, timeline.stable).requests).toBe(allTotals(after).requests);
  });
});
