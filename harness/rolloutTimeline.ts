// A new revision rolled in under load on the local cluster, recorded second by second: the
// canary e2e (test/e2e/canary.test.ts) asserts on the record, the rollout benchmark
// (bench/rollout.ts) plots it. A Service of the autoscale sample (one pod per revision) serves
// its first revision; k6 (rollout-load.js) sends a fixed arrival rate through the gateway; a
// second revision, with the sample's FAIL_PERCENT/DELAY_MS knobs as the case asks, is applied a
// few seconds in; the Service is read every second until the rollout has settled (the new
// revision takes all traffic, or it was rolled back), then a few more seconds of load. Then the
// Service's Events and the controller's canary log lines are gathered, and the Service deleted.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sampleImage } from '../cli/images/build.ts';

export type Kubectl = (args: string[], input?: string) => Promise<{ stdout: string }>;

export interface RolloutCase {
  /** The Service's name; its revisions are <service>-v1 (stable) and <service>-v2 (new). */
  service: string;
  /** On the Service: the canary.pilotlight.dev/* ones, or serving.knative.dev/rollout-duration. */
  annotations: Record<string, string>;
  /** The new revision's environment: FAIL_PERCENT, DELAY_MS. */
  newRevisionEnv: Record<string, string>;
}

export interface RolloutEnvironment {
  kubectl: Kubectl;
  k6: string;
  namespace: string;
  /** The gateway's external listener, e.g. http://127.0.0.1:31080/. */
  gatewayUrl: string;
  log?: (line: string) => void;
}

export interface LoadOptions {
  rate: number;
  /** Seconds of load on the first revision before the second is applied. */
  leadSeconds: number;
  /** Seconds of load after the rollout settled. */
  tailSeconds: number;
  /** Longest the load runs, so longest a case takes. */
  maxSeconds: number;
}

/** Answers in one second of the run: per revision, and those no revision gave (no answer, or the gateway's own). */
export interface Second {
  second: number;
  byRevision: Record<string, { requests: number; errors: number }>;
  unattributed: { requests: number; errors: number };
  p99Ms: number | undefined;
}

export interface Decision {
  second: number;
  type: string;
  reason: string;
  message: string;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface RolloutTimeline {
  service: string;
  stable: string;
  canary: string;
  rate: number;
  /** Seconds from the start of the load. */
  newRevisionAppliedAt: number;
  settledAt: number | undefined;
  outcome: 'promoted' | 'rolledBack' | 'unsettled';
  seconds: Second[];
  /** The untagged split the Service's status showed, each time it changed. */
  programmed: Array<{ second: number; percents: Record<string, number> }>;
  /** The Service's conditions when it settled. */
  conditions: Condition[];
  /** The Service's Events during the load, each at the second its controller log line was written when it has one. */
  events: Decision[];
  /** The controller's log lines about this Service's canary. */
  controllerLog: Decision[];
  k6: { droppedIterations: number; latencyMs: { p50: number; p99: number; max: number } };
}

interface K6Summary {
  droppedIterations: number;
  latencyMs: { p50: number; p99: number; max: number };
  answers: Array<{ second: number; revision: string | null; status: number; count: number }>;
  p99BySecond: Array<{ second: number; p99Ms: number }>;
}

interface ServiceObject {
  metadata: { generation?: number };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    traffic?: Array<{ revisionName?: string; percent?: number; tag?: string }>;
  };
}

// k6 needs a moment to start its VUs; the load starts this long after it is launched.
const K6_START_MARGIN_MS = 3000;
const POLL_MS = 1000;
const READY_TIMEOUT_MS = 180_000;
const SYSTEM_NAMESPACE = 'knative-serving';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The autoscale sample as one revision of the case's Service, one pod that stays. */
export function rolloutService(c: RolloutCase, revision: string, env: Record<string, string>): object {
  return {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: c.service, annotations: c.annotations },
    spec: {
      template: {
        metadata: {
          name: revision,
          annotations: { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/max-scale': '1' },
        },
        spec: {
          containers: [
            { image: sampleImage('autoscale'), env: Object.entries(env).map(([name, value]) => ({ name, value })) },
          ],
        },
      },
    },
  };
}

/** k6's counts as seconds, every second of the run present. */
export function secondsOf(summary: Pick<K6Summary, 'answers' | 'p99BySecond'>): Second[] {
  const last = Math.max(-1, ...summary.answers.map((a) => a.second));
  const seconds: Second[] = Array.from({ length: last + 1 }, (_, second) => ({
    second,
    byRevision: {},
    unattributed: { requests: 0, errors: 0 },
    p99Ms: summary.p99BySecond.find((p) => p.second === second)?.p99Ms,
  }));
  for (const { second, revision, status, count } of summary.answers) {
    const row = seconds[second]!;
    const counts = revision === null ? row.unattributed : (row.byRevision[revision] ??= { requests: 0, errors: 0 });
    counts.requests += count;
    if (status !== 200) counts.errors += count;
  }
  return seconds;
}

/** Sums of a revision's (or, with null, the unattributed) answers over a run. */
export function totals(seconds: Second[], revision: string | null): { requests: number; errors: number } {
  const sum = { requests: 0, errors: 0 };
  for (const s of seconds) {
    const counts = revision === null ? s.unattributed : s.byRevision[revision];
    sum.requests += counts?.requests ?? 0;
    sum.errors += counts?.errors ?? 0;
  }
  return sum;
}

/** Sums of every answer, by anyone. */
export function allTotals(seconds: Second[]): { requests: number; errors: number } {
  const sum = totals(seconds, null);
  for (const s of seconds)
    for (const counts of Object.values(s.byRevision)) {
      sum.requests += counts.requests;
      sum.errors += counts.errors;
    }
  return sum;
}

export async function runRolloutTimeline(
  env: RolloutEnvironment,
  c: RolloutCase,
  load: LoadOptions,
): Promise<RolloutTimeline> {
  const { kubectl, namespace } = env;
  const log = env.log ?? (() => {});
  const stable = `${c.service}-v1`;
  const canary = `${c.service}-v2`;
  const apply = (object: object) => kubectl(['apply', '-n', namespace, '-f', '-'], stringify(object));
  const read = async () =>
    JSON.parse((await kubectl(['get', 'ksvc', c.service, '-n', namespace, '-o', 'json'])).stdout) as ServiceObject;
  const untagged = (service: ServiceObject) =>
    Object.fromEntries(
      (service.status?.traffic ?? []).filter((t) => !t.tag).map((t) => [t.revisionName ?? '', t.percent ?? 0]),
    );
  const condition = (service: ServiceObject, type: string) => service.status?.conditions?.find((c) => c.type === type);
  const current = (service: ServiceObject) => service.status?.observedGeneration === service.metadata.generation;
  const servesOnly = (service: ServiceObject, revision: string) =>
    current(service) &&
    condition(service, 'Ready')?.status === 'True' &&
    JSON.stringify(untagged(service)) === JSON.stringify({ [revision]: 100 });

  await apply(rolloutService(c, stable, {}));
  const readyBy = Date.now() + READY_TIMEOUT_MS;
  while (!servesOnly(await read(), stable)) {
    if (Date.now() > readyBy)
      throw new Error(`${c.service}: ${stable} was not Ready within ${READY_TIMEOUT_MS / 1000} s`);
    await sleep(POLL_MS);
  }

  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-rollout-'));
  const summaryPath = join(dir, 'summary.json');
  const startEpochMs = Date.now() + K6_START_MARGIN_MS;
  const at = (epochMs: number) => Math.round((epochMs - startEpochMs) / 100) / 10;
  const args = ['run', '--quiet', '--no-color', '--address', ''];
  for (const [name, value] of Object.entries({
    URL: env.gatewayUrl,
    HOST: `${c.service}.${namespace}.example.com`,
    RATE: load.rate,
    START_EPOCH_MS: startEpochMs,
    SECONDS: load.maxSeconds,
    MAX_VUS: Math.max(20, load.rate),
    SUMMARY_JSON: summaryPath,
  }))
    args.push('-e', `${name}=${value}`);
  args.push(join(import.meta.dirname, 'rollout-load.js'));
  const k6 = spawn(env.k6, args, { env: { ...process.env, K6_NO_USAGE_REPORT: 'true' }, stdio: 'ignore' });
  const k6Exited = new Promise<number | null>((resolve) => k6.once('exit', resolve));
  try {
    await sleep(startEpochMs + load.leadSeconds * 1000 - Date.now());
    await apply(rolloutService(c, canary, c.newRevisionEnv));
    const newRevisionAppliedAt = at(Date.now());
    log(`${c.service}: ${canary} applied at ${newRevisionAppliedAt} s`);

    const programmed: RolloutTimeline['programmed'] = [];
    let outcome: RolloutTimeline['outcome'] = 'unsettled';
    let settledAt: number | undefined;
    let last: ServiceObject | undefined;
    const giveUpAt = startEpochMs + (load.maxSeconds - load.tailSeconds) * 1000;
    while (Date.now() < giveUpAt) {
      last = await read();
      const percents = untagged(last);
      if (JSON.stringify(percents) !== JSON.stringify(programmed.at(-1)?.percents))
        programmed.push({ second: at(Date.now()), percents });
      if (current(last) && condition(last, 'CanaryReady')?.reason === 'RolledBack') outcome = 'rolledBack';
      else if (servesOnly(last, canary)) outcome = 'promoted';
      if (outcome !== 'unsettled') {
        settledAt = at(Date.now());
        break;
      }
      await sleep(POLL_MS);
    }
    log(`${c.service}: ${outcome}${settledAt === undefined ? '' : ` at ${settledAt} s`}`);
    await sleep(Math.min(load.tailSeconds * 1000, startEpochMs + load.maxSeconds * 1000 - Date.now()));
    k6.kill('SIGINT');
    // 0 when the run ran out its time, 105 when SIGINT stopped it; handleSummary ran either way.
    const code = await k6Exited;
    if (code !== 0 && code !== 105) throw new Error(`k6 exited ${code}`);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as K6Summary;

    const controllerLog = (
      await kubectl([
        'logs',
        '-n',
        SYSTEM_NAMESPACE,
        '-l',
        'app.kubernetes.io/component=controller',
        '--tail=-1',
        '--prefix=false',
      ])
    ).stdout
      .split('\n')
      .flatMap((line) => {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          return entry.message === 'canary' &&
            entry.route === c.service &&
            Date.parse(String(entry.timestamp)) >= startEpochMs
            ? [
                {
                  second: at(Date.parse(String(entry.timestamp))),
                  type: String(entry.severity),
                  reason: String(entry.reason),
                  message: String(entry.detail),
                },
              ]
            : [];
        } catch {
          return [];
        }
      });
    const events = (
      JSON.parse(
        (
          await kubectl([
            'get',
            'events',
            '-n',
            namespace,
            '--field-selector',
            `involvedObject.kind=Service,involvedObject.name=${c.service}`,
            '-o',
            'json',
          ])
        ).stdout,
      ) as { items: Array<{ type: string; reason: string; message: string; lastTimestamp?: string }> }
    ).items
      .map((e) => ({
        second:
          controllerLog.find((l) => l.reason === e.reason && l.message === e.message)?.second ??
          at(Date.parse(e.lastTimestamp ?? '')),
        type: e.type,
        reason: e.reason,
        message: e.message,
      }))
      // Those of the load's time: the rollout's, not the first revision's creation.
      .filter((e) => e.second >= 0)
      .sort((a, b) => a.second - b.second);
    return {
      service: c.service,
      stable,
      canary,
      rate: load.rate,
      newRevisionAppliedAt,
      settledAt,
      outcome,
      seconds: secondsOf(summary),
      programmed,
      conditions: last?.status?.conditions ?? [],
      events,
      controllerLog,
      k6: { droppedIterations: summary.droppedIterations, latencyMs: summary.latencyMs },
    };
  } finally {
    if (k6.exitCode === null && k6.signalCode === null) {
      k6.kill('SIGKILL');
      await k6Exited;
    }
    rmSync(dir, { recursive: true, force: true });
    await kubectl(['delete', 'ksvc', c.service, '-n', namespace, '--wait=false']).catch(() => {});
  }
}
