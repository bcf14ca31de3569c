// Knative's gradual rollout (upstream pkg/reconciler/route/traffic/rollout.go and the rollout
// half of reconcile_resources.go): when a Configuration target's latest ready revision changes,
// its share moves from the old revisions to the new one in equal steps over rollout-duration.
// The state lives in the Route's KIngress, as upstream keeps it, so a restarted controller picks
// the rollout up where it was. Times are Unix nanoseconds and the JSON is upstream's, so the
// annotation reads the same to both.
import { z } from 'zod';
import { parseGoDuration } from '../../lib/config/duration.ts';
import type { NetworkConfig } from '../../lib/config/network.ts';
import { Annotations } from '../../lib/apis/serving.ts';
import { DEFAULT_TARGET, type RevisionTarget } from './traffic.ts';

export const ROLLOUT_ANNOTATION = 'networking.internal.knative.dev/rollout';

const NS_PER_SECOND = 1e9;
const NS_PER_MS = 1e6;

export interface RevisionRollout {
  revisionName: string;
  /** Share of the whole route's traffic, not of the configuration's. */
  percent: number;
}

/** All zero (absent) once a rollout is done; startTime alone while waiting for the Ingress. */
export interface RolloutParams {
  startTime?: number;
  nextStepTime?: number;
  /** Nanoseconds between two steps. */
  stepDuration?: number;
  /** Percentage points moved per step. */
  stepSize?: number;
}

/** One configuration under one traffic name (tag, or DEFAULT_TARGET). */
export interface ConfigurationRollout {
  configurationName: string;
  tag: string;
  /** The configuration's share; its revisions' percents add up to it. */
  percent: number;
  /** Oldest first; the last one is the revision being rolled out. One when no rollout runs. */
  revisions: RevisionRollout[];
  stepParams: RolloutParams;
}

/** Sorted by tag, then configuration name, so its JSON does not churn. */
export interface Rollout {
  configurations: ConfigurationRollout[];
}

const byTagThenName = (a: ConfigurationRollout, b: ConfigurationRollout) =>
  a.tag === b.tag ? compare(a.configurationName, b.configurationName) : compare(a.tag, b.tag);
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The rollout the traffic asks for right now: each latest-revision target with traffic, all of
 * it on its current revision. Stepping from the previous state turns it into what is served.
 */
export function buildRollout(targets: Map<string, RevisionTarget[]>): Rollout {
  const configurations: ConfigurationRollout[] = [];
  for (const [tag, list] of targets) {
    for (const target of list) {
      if (!target.latestRevision || !target.configurationName || target.percent === 0) continue;
      configurations.push({
        configurationName: target.configurationName,
        tag,
        percent: target.percent,
        revisions: [{ revisionName: target.revisionName, percent: target.percent }],
        stepParams: {},
      });
    }
  }
  return { configurations: configurations.sort(byTagThenName) };
}

/** True when no configuration is between revisions. */
export const isDone = (rollout: Rollout): boolean => rollout.configurations.every((c) => c.revisions.length < 2);

/** The seconds to roll out over: the Route's annotation, else config-network's; 0 turns it off. */
export function rolloutDurationSeconds(
  annotations: Record<string, string> | undefined,
  network: NetworkConfig,
): number {
  // The first key present wins, even when empty, as upstream reads it.
  const value = annotations?.[Annotations.rolloutDuration] ?? annotations?.[Annotations.rolloutDurationLegacy];
  const fromRoute = Math.trunc((value ? (parseGoDuration(value) ?? 0) : 0) / 1000);
  return fromRoute !== 0 ? fromRoute : Math.trunc(network.rolloutDurationMs / 1000);
}

export interface RolloutInput {
  /** buildRollout of the current traffic. */
  desired: Rollout;
  /** The state the Ingress carries, when there is one that parsed and was consistent. */
  previous: Rollout | undefined;
  durationSeconds: number;
  /** The Ingress is Ready at its current generation. */
  ingressReady: boolean;
  /** The Route's own IngressReady condition was True before this reconcile. */
  routeIngressReady: boolean;
  nowMs: number;
}

export interface RolloutPlan {
  /** What to serve and to record on the Ingress. */
  rollout: Rollout;
  /** How long until the next step falls due, when one is scheduled. */
  requeueAfterMs?: number;
}

export function planRollout(input: RolloutInput): RolloutPlan {
  if (input.durationSeconds <= 0 || !input.previous) return { rollout: input.desired };
  // Whole nanoseconds: the annotation holds integers.
  const now = Math.round(input.nowMs * NS_PER_MS);
  let previous = input.previous;
  // The first time the Ingress serves the rollout's opening 1%, that time sets the step length.
  if (input.ingressReady && !input.routeIngressReady) previous = observeReady(previous, now, input.durationSeconds);
  const { rollout, nextStepTime } = step(input.desired, previous, now);
  if (nextStepTime === 0) return { rollout };
  return { rollout, requeueAfterMs: Math.max(0, Math.ceil((nextStepTime - now) / NS_PER_MS)) };
}

/**
 * Gives every started rollout without a step length its step length, size and first step
 * time. It took the Ingress (now - startTime) to serve the first 1%, so a step can be no
 * shorter than that, at least a second.
 */
export function observeReady(rollout: Rollout, now: number, durationSeconds: number): Rollout {
  return {
    configurations: rollout.configurations.map((c) => {
      const { startTime = 0, stepDuration = 0 } = c.stepParams;
      if (stepDuration !== 0 || startTime <= 0) return c;
      const minStepSeconds = Math.max(1, Math.ceil((now - startTime) / NS_PER_SECOND));
      return { ...c, stepParams: { ...c.stepParams, ...stepParams(c.percent, now, minStepSeconds, durationSeconds) } };
    }),
  };
}

function stepParams(percent: number, now: number, minStepSeconds: number, durationSeconds: number): RolloutParams {
  // The opening 1% already took minStepSeconds of the duration.
  const seconds = Math.max(1, durationSeconds - minStepSeconds);
  // The smallest step is 1% (and 1% has moved), so no more steps than percents remain.
  const remaining = percent - 1;
  const steps = Math.max(1, Math.min(Math.max(1, seconds / minStepSeconds), remaining));
  // Rounded, not floored: 1.9 → 1 would nearly double the rollout's length.
  const stepSize = Math.round(remaining / steps);
  const stepDuration = (seconds / steps) * NS_PER_SECOND;
  return {
    stepDuration: Math.trunc(stepDuration),
    stepSize,
    nextStepTime: Math.trunc(now + stepDuration),
  };
}

/**
 * Merges the desired rollout with the previous state at time now: continues running rollouts
 * (a step when one falls due), starts one for a configuration whose latest revision changed
 * (a newer revision mid-rollout joins the queue at 1%), and follows changes of a
 * configuration's share. nextStepTime is the earliest step due, or 0 when none is.
 */
export function step(
  desired: Rollout,
  previous: Rollout | undefined,
  now: number,
): { rollout: Rollout; nextStepTime: number } {
  if (!previous || previous.configurations.length === 0) return { rollout: desired, nextStepTime: 0 };
  const byTag = (rollout: Rollout) => {
    const map = new Map<string, ConfigurationRollout[]>();
    for (const c of [...rollout.configurations].sort(byTagThenName)) map.set(c.tag, [...(map.get(c.tag) ?? []), c]);
    return map;
  };
  const previousByTag = byTag(previous);
  const out: ConfigurationRollout[] = [];
  let nextStepTime = Number.POSITIVE_INFINITY;

  for (const [tag, wanted] of byTag(desired)) {
    const before = previousByTag.get(tag);
    // A new name has nothing to roll from: it serves its revision in full from the start.
    if (!before) {
      out.push(...wanted);
      continue;
    }
    // Both lists are sorted by configuration name: walk them side by side.
    let j = 0;
    for (const goal of wanted) {
      while (j < before.length && before[j]!.configurationName < goal.configurationName) j++;
      const prev = before[j];
      if (prev?.configurationName !== goal.configurationName) {
        // A configuration new to this name: nothing to roll from.
        if (goal.percent !== 0) out.push(goal);
        continue;
      }
      j++;
      // At 1% there is no room for a rollout (the common A/B probe), and 0% is no traffic at all.
      if (goal.percent === 1) out.push(goal);
      if (goal.percent <= 1) continue;
      const stepped = stepConfiguration(goal, prev, now);
      out.push(stepped);
      const due = stepped.stepParams.nextStepTime ?? 0;
      if (due > 0 && due < nextStepTime) nextStepTime = due;
    }
  }
  return {
    rollout: { configurations: out.sort(byTagThenName) },
    nextStepTime: Number.isFinite(nextStepTime) ? nextStepTime : 0,
  };
}

/**
 * The previous revisions resized to a changed configuration share: a raise goes to the newest
 * revision, a cut comes off the oldest first, dropping those it empties.
 */
export function adjustPercentage(goal: number, revisions: RevisionRollout[], current: number): RevisionRollout[] {
  if (goal === 0) return [];
  const out = revisions.map((r) => ({ ...r }));
  let diff = goal - current;
  if (diff > 0) out[out.length - 1]!.percent += diff;
  if (diff >= 0) return out;
  diff = -diff;
  let i = 0;
  for (; diff > 0 && i < out.length; i++) {
    if (out[i]!.percent > diff) {
      out[i]!.percent -= diff;
      break;
    }
    diff -= out[i]!.percent;
  }
  return out.slice(i);
}

function stepConfiguration(goal: ConfigurationRollout, prev: ConfigurationRollout, now: number): ConfigurationRollout {
  const previous = prev.revisions.length > 0 ? adjustPercentage(goal.percent, prev.revisions, prev.percent) : [];
  const latest = goal.revisions[0]!;
  const base = { configurationName: goal.configurationName, tag: goal.tag, percent: goal.percent };
  if (previous.length === 0 || previous[previous.length - 1]!.revisionName === latest.revisionName) {
    // No new revision: carry a running rollout on (stepping once it has its step size) or stay done.
    if (previous.length < 2) return { ...base, revisions: goal.revisions, stepParams: {} };
    const running = { ...base, revisions: previous, stepParams: { ...prev.stepParams } };
    return (running.stepParams.stepSize ?? 0) > 0 ? stepRevisions(running, now) : running;
  }
  // A new revision starts at 1%, taken from the newest revision that has any, so a revision
  // that was itself rolling in is drained first.
  const newestWithTraffic = previous.findLastIndex((r) => r.percent > 0);
  if (newestWithTraffic >= 0) previous[newestWithTraffic]!.percent--;
  return {
    ...base,
    revisions: [...previous.filter((r) => r.percent !== 0), { revisionName: latest.revisionName, percent: 1 }],
    stepParams: { startTime: now },
  };
}

/**
 * One step, if due: stepSize points move to the newest revision, taken from the one before it
 * and on back to the oldest, dropping the revisions that run dry. The last step clears the params.
 */
export function stepRevisions(config: ConfigurationRollout, now: number): ConfigurationRollout {
  const { nextStepTime = 0, stepSize = 0, stepDuration = 0 } = config.stepParams;
  if (now < nextStepTime || config.revisions.length < 2) return config;
  const revisions = config.revisions.map((r) => ({ ...r }));
  const newest = revisions[revisions.length - 1]!;
  let remaining = stepSize;
  let keep = revisions.length - 1; // the older revisions left, oldest first
  for (let read = revisions.length - 2; remaining > 0 && read >= 0; read--) {
    if (revisions[read]!.percent > remaining) {
      revisions[read]!.percent -= remaining;
      break;
    }
    remaining -= revisions[read]!.percent;
    keep--;
  }
  // The share may have dropped below a step: the newest never takes more than the whole.
  const stepped = [
    ...revisions.slice(0, keep),
    { ...newest, percent: Math.min(newest.percent + stepSize, config.percent) },
  ];
  const stepParams: RolloutParams =
    stepped.length > 1 ? { ...config.stepParams, nextStepTime: now + stepDuration } : {};
  return { ...config, revisions: stepped, stepParams };
}

/** Upstream's consistency check: a state that fails it is discarded, not stepped from. */
export function isConsistent(rollout: Rollout): boolean {
  return rollout.configurations.every((c) => {
    const stepSize = c.stepParams.stepSize ?? 0;
    const total = c.revisions.reduce((sum, r) => sum + r.percent, 0);
    return c.percent <= 100 && stepSize >= 0 && stepSize <= c.percent && total === c.percent;
  });
}

// Nanosecond timestamps pass 2^53, so they are whole numbers but not "safe" integers.
const whole = z.number().refine(Number.isInteger, 'must be a whole number');
const annotationSchema = z.object({
  configurations: z
    .array(
      z.object({
        configurationName: z.string().default(''),
        tag: z.string().default(''),
        percent: whole.default(0),
        revisions: z
          .array(z.object({ revisionName: z.string().default(''), percent: whole.default(0) }))
          .nullish()
          .transform((r) => r ?? []),
        stepParams: z
          .object({
            starttime: whole.optional(),
            nextStepTime: whole.optional(),
            stepDuration: whole.optional(),
            stepSize: whole.optional(),
          })
          .nullish()
          .transform((p) => p ?? {}),
      }),
    )
    .nullish()
    .transform((c) => c ?? []),
});

/** The rollout in the Ingress annotation; undefined when it is absent, unreadable or inconsistent. */
export function parseRollout(text: string | undefined): Rollout | undefined {
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = annotationSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const rollout: Rollout = {
    configurations: parsed.data.configurations.map(({ stepParams: { starttime, ...params }, ...c }) => ({
      ...c,
      stepParams: dropZeros({ startTime: starttime, ...params }),
    })),
  };
  return isConsistent(rollout) ? rollout : undefined;
}

/** Upstream's JSON: its field order, its `starttime`, zero values left out. */
export function serializeRollout(rollout: Rollout): string {
  if (rollout.configurations.length === 0) return '{}';
  return JSON.stringify({
    configurations: rollout.configurations.map((c) => ({
      configurationName: c.configurationName,
      ...(c.tag ? { tag: c.tag } : {}),
      percent: c.percent,
      ...(c.revisions.length > 0
        ? { revisions: c.revisions.map((r) => ({ revisionName: r.revisionName, percent: r.percent })) }
        : {}),
      stepParams: dropZeros({
        starttime: c.stepParams.startTime,
        nextStepTime: c.stepParams.nextStepTime,
        stepDuration: c.stepParams.stepDuration,
        stepSize: c.stepParams.stepSize,
      }),
    })),
  });
}

function dropZeros<T extends Record<string, number | undefined>>(params: T): Partial<T> {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== 0)) as Partial<T>;
}

const rolloutOf = (rollout: Rollout, tag: string, target: RevisionTarget) =>
  target.latestRevision
    ? rollout.configurations.find((c) => c.tag === tag && c.configurationName === target.configurationName)
    : undefined;

/**
 * The targets of one traffic name as the Ingress splits them: a latest-revision target whose
 * configuration is mid-rollout becomes one target per revision of the rollout.
 */
export function rolledOutSplits(tag: string, targets: RevisionTarget[], rollout: Rollout): RevisionTarget[] {
  return targets.flatMap((target) => {
    const config = target.percent > 0 ? rolloutOf(rollout, tag, target) : undefined;
    // One revision is no rollout, unless it is another than the target's (a canary's stable revision).
    const only = config?.revisions.length === 1 ? config.revisions[0]!.revisionName : undefined;
    if (!config || config.revisions.length === 0 || only === target.revisionName) return [target];
    return config.revisions.map((r) => ({ ...target, revisionName: r.revisionName, percent: r.percent }));
  });
}

/** The Route's status traffic while a rollout runs: each rolled-out target shows the rollout's revisions. */
export function rolledOutStatus(targets: RevisionTarget[], rollout: Rollout): RevisionTarget[] {
  return targets.flatMap((target) => {
    const config = rolloutOf(rollout, target.tag ?? DEFAULT_TARGET, target);
    if (!config) return [target];
    return config.revisions.map((r) => ({ ...target, revisionName: r.revisionName, percent: r.percent }));
  });
}
