// pilotlight's own canary analysis (opt-in with the canary.pilotlight.dev/* annotations on a
// Service, which its Route inherits): when a configuration's latest ready revision changes, the
// Route sends it the first step's share of the traffic, the stable revision the rest, and after
// each interval the gateway's live figures of the two (GET /revisions/stats) decide: advance a
// step, count a failed check, or, after max-failures of them, roll back to the stable revision
// in full. A revision rolled back is not tried again; the next new revision starts afresh. A
// first step of 0 % is a preview: the new revision answers only on the `canary` tag URL until
// canary.pilotlight.dev/promote names it.
//
// Pure: the reconciler reads the figures when checkDue says so, and writes the state this
// returns to the Route's Ingress (CANARY_STATE_ANNOTATION), where a restarted controller finds it.
import { z } from 'zod';
import { parseGoDuration } from '../../lib/config/duration.ts';
import { quantileMs, type RevisionFigures } from '../../lib/stats/revisionFigures.ts';
import type { Rollout } from './rollout.ts';
import { DEFAULT_TARGET } from './traffic.ts';

export const CanaryAnnotations = {
  steps: 'canary.pilotlight.dev/steps',
  interval: 'canary.pilotlight.dev/interval',
  maxErrorRate: 'canary.pilotlight.dev/max-error-rate',
  maxP99Increase: 'canary.pilotlight.dev/max-p99-increase',
  minRequests: 'canary.pilotlight.dev/min-requests',
  maxFailures: 'canary.pilotlight.dev/max-failures',
  promote: 'canary.pilotlight.dev/promote',
} as const;

export const CANARY_STATE_ANNOTATION = 'canary.pilotlight.dev/state';

/** The Route's condition for the analysis, copied to its Service; non-dependent, so it does not gate Ready. */
export const CANARY_CONDITION = 'CanaryReady';

/** The traffic name on which a canary is reachable for as long as it rolls in. */
export const CANARY_TAG = 'canary';

export const CanaryReasons = {
  awaitingPromotion: 'AwaitingPromotion',
  inProgress: 'CanaryInProgress',
  rolledBack: 'RolledBack',
  succeeded: 'Succeeded',
  invalidSpec: 'InvalidCanarySpec',
} as const;

export interface CanarySpec {
  /** Percent of the traffic the canary takes at each step, rising, each below 100; a 0 only first. */
  steps: number[];
  intervalMs: number;
  /** Highest share of 5xx answers a check accepts, 0 to 1. */
  maxErrorRate: number;
  /** Most the canary's p99 may exceed the stable revision's; no latency check when absent. */
  maxP99IncreaseMs: number | undefined;
  /** Fewer requests in a check's window than this decide nothing. */
  minRequests: number;
  /** Failed checks in one rollout that roll it back. */
  maxFailures: number;
}

const DEFAULTS = { intervalMs: 60_000, maxErrorRate: 0.01, minRequests: 20, maxFailures: 2 };

/** A canary annotation that breaks its rule; the webhook reports it at the annotation's path. */
export class InvalidCanaryAnnotation extends Error {
  readonly annotation: string;
  readonly value: string | undefined;
  readonly rule: string;

  constructor(annotation: string, value: string | undefined, rule: string) {
    super(`annotation ${annotation}: ${JSON.stringify(value)} ${rule}`);
    this.annotation = annotation;
    this.value = value;
    this.rule = rule;
  }
}

/**
 * The canary asked for by a Route's annotations; undefined when it has no steps annotation (no
 * canary). Throws an InvalidCanaryAnnotation naming the annotation and its rule.
 */
export function parseCanarySpec(annotations: Record<string, string> | undefined): CanarySpec | undefined {
  const text = annotations?.[CanaryAnnotations.steps];
  if (text === undefined) return undefined;
  const fail = (key: string, rule: string): never => {
    throw new InvalidCanaryAnnotation(key, annotations?.[key], rule);
  };
  const steps = text.split(',').map((part) => Number(part.trim()));
  const rising = steps.every((p, i) => Number.isInteger(p) && p >= 0 && p < 100 && (i === 0 || p > steps[i - 1]!));
  if (text.trim() === '' || !rising)
    fail(CanaryAnnotations.steps, 'must be rising whole percents below 100, such as "5,25,50" (a 0 only first)');

  const duration = (key: string, fallback: number | undefined) => {
    const value = annotations?.[key];
    if (value === undefined) return fallback;
    const ms = parseGoDuration(value);
    return ms !== undefined && ms > 0 ? ms : fail(key, 'must be a positive duration such as 30s or 200ms');
  };
  const whole = (key: string, fallback: number, min: number) => {
    const value = annotations?.[key];
    if (value === undefined) return fallback;
    const n = Number(value);
    return value.trim() !== '' && Number.isInteger(n) && n >= min ? n : fail(key, `must be a whole number ≥ ${min}`);
  };
  const rate = (key: string, fallback: number) => {
    const value = annotations?.[key]?.trim();
    if (value === undefined) return fallback;
    const percent = value.endsWith('%');
    const n = Number(percent ? value.slice(0, -1) : value) / (percent ? 100 : 1);
    return value !== '' && value !== '%' && n >= 0 && n <= 1
      ? n
      : fail(key, 'must be a share of requests, such as 1% or 0.01, from 0 to 100%');
  };
  return {
    steps,
    intervalMs: duration(CanaryAnnotations.interval, DEFAULTS.intervalMs)!,
    maxErrorRate: rate(CanaryAnnotations.maxErrorRate, DEFAULTS.maxErrorRate),
    maxP99IncreaseMs: duration(CanaryAnnotations.maxP99Increase, undefined),
    minRequests: whole(CanaryAnnotations.minRequests, DEFAULTS.minRequests, 1),
    maxFailures: whole(CanaryAnnotations.maxFailures, DEFAULTS.maxFailures, 1),
  };
}

/** One configuration's canary, as the Ingress records it. */
export interface CanaryState {
  configurationName: string;
  /** The revision that takes what the canary does not. */
  stable: string;
  /** The revision rolling in, when one is. */
  canary?: string;
  /** Index into the steps. */
  step?: number;
  stepStartedMs?: number;
  /** Failed checks so far in this rollout. */
  failures?: number;
  /** The revision last rolled back: it is not tried again. */
  rolledBack?: string;
  /** The last decision and its figures, for the condition. */
  message?: string;
}

export interface CheckFigures {
  canary: RevisionFigures;
  stable: RevisionFigures;
}

export interface CanaryEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface CanaryInput {
  spec: CanarySpec;
  previous: CanaryState | undefined;
  configurationName: string;
  /** The configuration's latest ready revision. */
  latest: string;
  /** The previous stable revision exists and is ready. */
  stableReady: boolean;
  /** The revision canary.pilotlight.dev/promote names. */
  promote: string | undefined;
  /** Read when checkDue was true: the figures over the last interval, or 'unavailable'. */
  figures?: CheckFigures | 'unavailable';
  nowMs: number;
}

export interface CanaryOutcome {
  state: CanaryState;
  events: CanaryEvent[];
  /** When the next check falls due. */
  requeueAfterMs?: number;
}

/** The canary's share (percent of the configuration's) right now; 0 when none rolls in. */
export const canaryPercent = (spec: CanarySpec, state: CanaryState): number =>
  state.canary === undefined ? 0 : (spec.steps[state.step ?? 0] ?? 0);

/** Whether a check of this state is due, so the figures must be read first. */
export function checkDue(spec: CanarySpec, state: CanaryState | undefined, nowMs: number): boolean {
  if (!state?.canary || canaryPercent(spec, state) === 0) return false;
  return nowMs >= (state.stepStartedMs ?? 0) + spec.intervalMs;
}

const percentText = (share: number) => `${(share * 100).toFixed(1)}%`;

/** Whether the figures pass the thresholds, with the figures and limits in words. */
export function judge(
  spec: CanarySpec,
  names: { canary: string; stable: string },
  figures: CheckFigures,
): { outcome: 'pass' | 'fail' | 'insufficient'; summary: string } {
  const { canary, stable } = figures;
  const errorRate = canary.requests === 0 ? 0 : canary.errors / canary.requests;
  const canaryP99 = quantileMs(canary.latency, 0.99);
  const stableP99 = quantileMs(stable.latency, 0.99);
  const parts = [
    `${canary.requests} requests (min ${spec.minRequests})`,
    `5xx ${percentText(errorRate)} (max ${percentText(spec.maxErrorRate)})`,
    `p99 ${Math.round(canaryP99)}ms vs ${names.stable} ${Math.round(stableP99)}ms` +
      (spec.maxP99IncreaseMs === undefined ? '' : ` (max +${spec.maxP99IncreaseMs}ms)`),
  ];
  const summary = `${names.canary}: ${parts.join(', ')}`;
  if (canary.requests < spec.minRequests) return { outcome: 'insufficient', summary };
  const errorsFail = errorRate > spec.maxErrorRate;
  // Without stable requests there is nothing to compare with: the latency check waits for them.
  const latencyFails =
    spec.maxP99IncreaseMs !== undefined && stable.requests > 0 && canaryP99 - stableP99 > spec.maxP99IncreaseMs;
  return { outcome: errorsFail || latencyFails ? 'fail' : 'pass', summary };
}

/** The next state of one configuration's canary, with the Events that tell of each decision. */
export function stepCanary(input: CanaryInput): CanaryOutcome {
  const { previous, configurationName, latest } = input;
  if (!previous || latest === previous.stable) {
    // First sight (nothing to compare with) or back on the stable revision: it serves in full.
    const message = previous?.canary === undefined ? previous?.message : undefined;
    return { state: { configurationName, stable: latest, ...(message ? { message } : {}) }, events: [] };
  }
  if (!input.stableReady) {
    const message = `Revision "${previous.stable}" is gone or not ready: "${latest}" takes all traffic without analysis.`;
    return {
      state: { configurationName, stable: latest, message },
      events: [{ type: 'Warning', reason: 'CanaryAbandoned', message }],
    };
  }
  if (latest === previous.rolledBack) return { state: previous, events: [] };
  if (latest !== previous.canary) return running(input, ...start(input, previous));
  return running(input, previous, []);
}

/** A new canary at the first step, and the Event that announces it. */
function start(input: CanaryInput, previous: CanaryState): [CanaryState, CanaryEvent[]] {
  const { spec, latest } = input;
  const state: CanaryState = {
    configurationName: input.configurationName,
    stable: previous.stable,
    canary: latest,
    step: 0,
    stepStartedMs: input.nowMs,
    failures: 0,
  };
  const replacing = previous.canary ? ` It replaces "${previous.canary}", which had not finished.` : '';
  const percent = canaryPercent(spec, state);
  const event: CanaryEvent =
    percent === 0
      ? {
          type: 'Normal',
          reason: CanaryReasons.awaitingPromotion,
          message: `Revision "${latest}" answers on tag "${CANARY_TAG}" only; set ${CanaryAnnotations.promote}: ${latest} to roll it out.${replacing}`,
        }
      : {
          type: 'Normal',
          reason: 'CanaryStarted',
          message: `Revision "${latest}" takes ${percent}% of the traffic, "${previous.stable}" the rest; first check in ${spec.intervalMs / 1000}s.${replacing}`,
        };
  return [state, [event]];
}

function running(input: CanaryInput, state: CanaryState, events: CanaryEvent[]): CanaryOutcome {
  const { spec, nowMs } = input;
  const canary = state.canary!;
  const percent = canaryPercent(spec, state);
  if (percent === 0) {
    if (input.promote === canary) return advance(input, state, events, `"${canary}" was promoted from preview`);
    return { state, events };
  }
  const due = (state.stepStartedMs ?? 0) + spec.intervalMs;
  if (nowMs < due || input.figures === undefined) return { state, events, requeueAfterMs: Math.max(0, due - nowMs) };
  // A new window starts with every check that does not advance.
  const again = (next: CanaryState, event: CanaryEvent): CanaryOutcome => ({
    state: { ...next, stepStartedMs: nowMs, message: event.message },
    events: [...events, event],
    requeueAfterMs: spec.intervalMs,
  });
  if (input.figures === 'unavailable')
    return again(state, {
      type: 'Warning',
      reason: 'CanaryStatsUnavailable',
      message: `The gateway's figures could not be read: "${canary}" stays at ${percent}%.`,
    });
  const verdict = judge(spec, { canary, stable: state.stable }, input.figures);
  if (verdict.outcome === 'insufficient')
    return again(state, {
      type: 'Normal',
      reason: 'CanaryWaiting',
      message: `Too few requests to decide at ${percent}%: ${verdict.summary}.`,
    });
  if (verdict.outcome === 'pass')
    return advance(input, state, events, `Check passed at ${percent}%: ${verdict.summary}`);
  const failures = (state.failures ?? 0) + 1;
  if (failures >= spec.maxFailures) {
    const message = `Rolled back "${canary}" to "${state.stable}" after ${failures} failed checks: ${verdict.summary}.`;
    return {
      state: { configurationName: state.configurationName, stable: state.stable, rolledBack: canary, message },
      events: [...events, { type: 'Warning', reason: CanaryReasons.rolledBack, message }],
    };
  }
  return again(
    { ...state, failures },
    {
      type: 'Warning',
      reason: 'CanaryCheckFailed',
      message: `Check failed at ${percent}% (${failures} of ${spec.maxFailures} allowed): ${verdict.summary}.`,
    },
  );
}

function advance(input: CanaryInput, state: CanaryState, events: CanaryEvent[], why: string): CanaryOutcome {
  const { spec, nowMs } = input;
  const canary = state.canary!;
  const next = (state.step ?? 0) + 1;
  if (next >= spec.steps.length) {
    const message = `${why}; "${canary}" takes all traffic.`;
    return {
      state: { configurationName: state.configurationName, stable: canary, message },
      events: [...events, { type: 'Normal', reason: CanaryReasons.succeeded, message }],
    };
  }
  const message = `${why}; "${canary}" now takes ${spec.steps[next]}%.`;
  return {
    state: { ...state, step: next, stepStartedMs: nowMs, message },
    events: [...events, { type: 'Normal', reason: 'CanaryAdvanced', message }],
    requeueAfterMs: spec.intervalMs,
  };
}

/**
 * The Events of the canaries that end because the analysis is off (its annotations removed, or
 * made invalid): each latest revision takes its whole share at once, unanalysed.
 */
export function abandonedCanaries(states: CanaryState[], invalid: InvalidCanaryAnnotation | undefined): CanaryEvent[] {
  const why = invalid
    ? `The canary annotations are invalid (${invalid.message})`
    : `The canary analysis is off (no ${CanaryAnnotations.steps} annotation)`;
  return states
    .filter((s) => s.canary !== undefined)
    .map((s) => ({
      type: invalid ? 'Warning' : 'Normal',
      reason: 'CanaryAbandoned',
      message: `${why}: "${s.canary}" takes its whole share at once, without analysis.`,
    }));
}

/**
 * What the Ingress serves: each canary's configuration on the default traffic name split
 * between its stable revision and its canary; tags and configurations without a canary as asked.
 */
export function canaryRollout(spec: CanarySpec, desired: Rollout, states: CanaryState[]): Rollout {
  return {
    configurations: desired.configurations.map((c) => {
      const state = states.find((s) => s.configurationName === c.configurationName);
      if (c.tag !== DEFAULT_TARGET || !state) return c;
      const share = Math.round((c.percent * canaryPercent(spec, state)) / 100);
      const revisions = [
        { revisionName: state.stable, percent: c.percent - share },
        ...(state.canary ? [{ revisionName: state.canary, percent: share }] : []),
      ].filter((r) => r.percent > 0);
      return { ...c, revisions, stepParams: {} };
    }),
  };
}

export interface CanaryCondition {
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

/** CanaryReady of the Route (and so of its Service): a rollback beats a running canary beats done. */
export function canaryCondition(spec: CanarySpec, states: CanaryState[]): CanaryCondition {
  const rolledBack = states.filter((s) => s.rolledBack !== undefined);
  if (rolledBack.length > 0)
    return { status: 'False', reason: CanaryReasons.rolledBack, message: messages(rolledBack) };
  const running = states.filter((s) => s.canary !== undefined);
  if (running.length > 0) {
    const preview = running.every((s) => canaryPercent(spec, s) === 0);
    const message = running
      .map((s) => {
        const at = `"${s.canary}" at ${canaryPercent(spec, s)}% (step ${(s.step ?? 0) + 1} of ${spec.steps.length})`;
        return preview
          ? `${at}, on tag "${CANARY_TAG}" only until ${CanaryAnnotations.promote} names it.`
          : `${at}.${s.message ? ` ${s.message}` : ''}`;
      })
      .join(' ');
    return { status: 'Unknown', reason: preview ? CanaryReasons.awaitingPromotion : CanaryReasons.inProgress, message };
  }
  const done = states.filter((s) => s.message !== undefined);
  return done.length > 0
    ? { status: 'True', reason: CanaryReasons.succeeded, message: messages(done) }
    : { status: 'True' };
}

const messages = (states: CanaryState[]) => states.map((s) => s.message).join(' ');

const stateSchema = z.array(
  z.object({
    configurationName: z.string(),
    stable: z.string(),
    canary: z.string().optional(),
    step: z.number().int().nonnegative().optional(),
    stepStartedMs: z.number().optional(),
    failures: z.number().int().nonnegative().optional(),
    rolledBack: z.string().optional(),
    message: z.string().optional(),
  }),
);

/** The states the Ingress records; undefined when absent or unreadable. */
export function parseCanaryStates(text: string | undefined): CanaryState[] | undefined {
  if (!text) return undefined;
  try {
    const parsed = stateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const serializeCanaryStates = (states: CanaryState[]): string =>
  JSON.stringify([...states].sort((a, b) => (a.configurationName < b.configurationName ? -1 : 1)));
