import { describe, expect, it } from 'vitest';
import {
  abandonedCanaries,
  canaryCondition,
  InvalidCanaryAnnotation,
  canaryRollout,
  checkDue,
  judge,
  parseCanarySpec,
  parseCanaryStates,
  serializeCanaryStates,
  stepCanary,
  type CanaryInput,
  type CanarySpec,
  type CanaryState,
  type CheckFigures,
} from '../../../controllers/route/canary.ts';
import { LATENCY_SLOTS, latencySlot, type RevisionFigures } from '../../../lib/stats/revisionFigures.ts';

const SPEC: CanarySpec = {
  steps: [5, 25, 50],
  intervalMs: 30_000,
  maxErrorRate: 0.01,
  maxP99IncreaseMs: 200,
  minRequests: 100,
  maxFailures: 2,
};

/** `requests` answers, `errors` of them 5xx, all at latencyMs. */
function figures(requests: number, errors: number, latencyMs: number): RevisionFigures {
  const latency = new Array(LATENCY_SLOTS).fill(0);
  latency[latencySlot(latencyMs)] = requests;
  return { requests, errors, latency };
}
const good: CheckFigures = { canary: figures(200, 0, 10), stable: figures(1000, 0, 10) };
const erring: CheckFigures = { canary: figures(200, 10, 10), stable: figures(1000, 0, 10) };
const slow: CheckFigures = { canary: figures(200, 0, 450), stable: figures(1000, 0, 90) };

const T0 = 1_000_000;
const stable: CanaryState = { configurationName: 'app', stable: 'app-00001' };

function input(previous: CanaryState | undefined, extra: Partial<CanaryInput> = {}): CanaryInput {
  return {
    spec: SPEC,
    previous,
    configurationName: 'app',
    latest: 'app-00002',
    stableReady: true,
    promote: undefined,
    nowMs: T0,
    ...extra,
  };
}

describe('parseCanarySpec', () => {
  it('is off without the steps annotation and fills in defaults', () => {
    expect(parseCanarySpec({})).toBeUndefined();
    expect(parseCanarySpec({ 'canary.pilotlight.dev/steps': '10, 50' })).toEqual({
      steps: [10, 50],
      intervalMs: 60_000,
      maxErrorRate: 0.01,
      maxP99IncreaseMs: undefined,
      minRequests: 20,
      maxFailures: 2,
    });
  });

  it('reads every annotation, error rates as a percent or a fraction', () => {
    const annotations = {
      'canary.pilotlight.dev/steps': '0,5,25,50',
      'canary.pilotlight.dev/interval': '30s',
      'canary.pilotlight.dev/max-error-rate': '2.5%',
      'canary.pilotlight.dev/max-p99-increase': '200ms',
      'canary.pilotlight.dev/min-requests': '100',
      'canary.pilotlight.dev/max-failures': '3',
    };
    expect(parseCanarySpec(annotations)).toEqual({
      steps: [0, 5, 25, 50],
      intervalMs: 30_000,
      maxErrorRate: 0.025,
      maxP99IncreaseMs: 200,
      minRequests: 100,
      maxFailures: 3,
    });
    expect(parseCanarySpec({ ...annotations, 'canary.pilotlight.dev/max-error-rate': '0.05' })?.maxErrorRate).toBe(
      0.05,
    );
  });

  it.each([
    ['canary.pilotlight.dev/steps', '50,25', 'must be rising whole percents below 100'],
    ['canary.pilotlight.dev/steps', '5,100', 'must be rising whole percents below 100'],
    ['canary.pilotlight.dev/steps', '', 'must be rising whole percents below 100'],
    ['canary.pilotlight.dev/interval', '0s', 'must be a positive duration'],
    ['canary.pilotlight.dev/max-error-rate', '150%', 'must be a share of requests'],
    ['canary.pilotlight.dev/max-error-rate', 'low', 'must be a share of requests'],
    ['canary.pilotlight.dev/min-requests', '1.5', 'must be a whole number ≥ 1'],
    ['canary.pilotlight.dev/max-failures', '0', 'must be a whole number ≥ 1'],
  ])('rejects %s: %j, naming it and the rule', (key, value, rule) => {
    const annotations = { 'canary.pilotlight.dev/steps': '5,50', [key]: value };
    expect(() => parseCanarySpec(annotations)).toThrow(`annotation ${key}: ${JSON.stringify(value)} ${rule}`);
  });
});

describe('judge', () => {
  const names = { canary: 'app-00002', stable: 'app-00001' };

  it('passes figures within every threshold, and says them', () => {
    expect(judge(SPEC, names, good)).toEqual({
      outcome: 'pass',
      summary: 'app-00002: 200 requests (min 100), 5xx 0.0% (max 1.0%), p99 10ms vs app-00001 10ms (max +200ms)',
    });
  });

  it('fails on the error rate or on the p99 increase over the stable revision', () => {
    expect(judge(SPEC, names, erring).outcome).toBe('fail');
    expect(judge(SPEC, names, slow).outcome).toBe('fail');
    // Without a latency threshold, slowness alone passes.
    expect(judge({ ...SPEC, maxP99IncreaseMs: undefined }, names, slow).outcome).toBe('pass');
  });

  it('decides nothing below min-requests, and skips the latency check without stable requests', () => {
    expect(judge(SPEC, names, { ...good, canary: figures(99, 50, 10) }).outcome).toBe('insufficient');
    expect(judge(SPEC, names, { canary: figures(200, 0, 900), stable: figures(0, 0, 0) }).outcome).toBe('pass');
  });
});

describe('stepCanary', () => {
  it('takes the first revision it sees as stable, with nothing to analyse', () => {
    expect(stepCanary(input(undefined))).toEqual({
      state: { configurationName: 'app', stable: 'app-00002' },
      events: [],
    });
  });

  it('starts a new latest revision at the first step and checks it after the interval', () => {
    const started = stepCanary(input(stable));
    expect(started.state).toEqual({ ...stable, canary: 'app-00002', step: 0, stepStartedMs: T0, failures: 0 });
    expect(started.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'CanaryStarted' })]);
    expect(started.requeueAfterMs).toBe(30_000);
    expect(checkDue(SPEC, started.state, T0 + 29_999)).toBe(false);
    expect(checkDue(SPEC, started.state, T0 + 30_000)).toBe(true);
    // Before it is due nothing changes.
    const early = stepCanary(input(started.state, { nowMs: T0 + 10_000 }));
    expect(early).toEqual({ state: started.state, events: [], requeueAfterMs: 20_000 });
  });

  it('advances through every step on good figures and ends with the canary stable', () => {
    let state = stepCanary(input(stable)).state;
    const percents: number[] = [];
    let now = T0;
    for (let i = 0; i < 3; i++) {
      now += 30_000;
      const out = stepCanary(input(state, { nowMs: now, figures: good }));
      state = out.state;
      percents.push(state.step ?? -1);
      expect(out.events).toHaveLength(1);
    }
    expect(state).toEqual({
      configurationName: 'app',
      stable: 'app-00002',
      message: expect.stringMatching(
        /^Check passed at 50%: app-00002: 200 requests.*; "app-00002" takes all traffic\.$/,
      ),
    });
    expect(percents).toEqual([1, 2, -1]);
  });

  it('counts failed checks, rolls back after max-failures and does not retry the revision', () => {
    const started = stepCanary(input(stable)).state;
    const first = stepCanary(input(started, { nowMs: T0 + 30_000, figures: erring }));
    expect(first.state).toMatchObject({ canary: 'app-00002', step: 0, failures: 1, stepStartedMs: T0 + 30_000 });
    expect(first.events[0]).toMatchObject({ type: 'Warning', reason: 'CanaryCheckFailed' });
    expect(first.events[0]!.message).toContain('5xx 5.0% (max 1.0%)');
    const second = stepCanary(input(first.state, { nowMs: T0 + 60_000, figures: slow }));
    expect(second.state).toEqual({
      configurationName: 'app',
      stable: 'app-00001',
      rolledBack: 'app-00002',
      message: expect.stringContaining('Rolled back "app-00002" to "app-00001" after 2 failed checks: app-00002: 200'),
    });
    expect(second.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'RolledBack' })]);
    expect(second.requeueAfterMs).toBeUndefined();
    // Still the latest: it stays rolled back.
    expect(stepCanary(input(second.state, { nowMs: T0 + 999_000 }))).toEqual({ state: second.state, events: [] });
    // A newer revision starts afresh from the stable one.
    const next = stepCanary(input(second.state, { latest: 'app-00003', nowMs: T0 + 999_000 }));
    expect(next.state).toEqual({
      configurationName: 'app',
      stable: 'app-00001',
      canary: 'app-00003',
      step: 0,
      stepStartedMs: T0 + 999_000,
      failures: 0,
    });
  });

  it('holds the step with too few requests or no figures, and starts a new window', () => {
    const started = stepCanary(input(stable)).state;
    const waiting = stepCanary(input(started, { nowMs: T0 + 30_000, figures: { ...good, canary: figures(5, 5, 10) } }));
    expect(waiting.state).toMatchObject({ step: 0, failures: 0, stepStartedMs: T0 + 30_000 });
    expect(waiting.events[0]).toMatchObject({ reason: 'CanaryWaiting' });
    expect(waiting.requeueAfterMs).toBe(30_000);
    const blind = stepCanary(input(started, { nowMs: T0 + 30_000, figures: 'unavailable' }));
    expect(blind.state).toMatchObject({ step: 0, failures: 0 });
    expect(blind.events[0]).toMatchObject({ type: 'Warning', reason: 'CanaryStatsUnavailable' });
  });

  it('replaces an unfinished canary with a newer revision', () => {
    const started = stepCanary(input(stable)).state;
    const advanced = stepCanary(input(started, { nowMs: T0 + 30_000, figures: good })).state;
    const newer = stepCanary(input(advanced, { latest: 'app-00003', nowMs: T0 + 40_000 }));
    expect(newer.state).toMatchObject({ stable: 'app-00001', canary: 'app-00003', step: 0, failures: 0 });
    expect(newer.events[0]!.message).toContain('It replaces "app-00002"');
  });

  it('gives up the analysis when the stable revision is gone', () => {
    const started = stepCanary(input(stable)).state;
    const out = stepCanary(input(started, { stableReady: false, nowMs: T0 + 1 }));
    expect(out.state).toMatchObject({ stable: 'app-00002' });
    expect(out.state.canary).toBeUndefined();
    expect(out.events[0]).toMatchObject({ type: 'Warning', reason: 'CanaryAbandoned' });
  });

  it('holds a preview at 0% without checks until promote names the canary', () => {
    const spec = { ...SPEC, steps: [0, 50] };
    const preview = stepCanary(input(stable, { spec }));
    expect(preview.events[0]).toMatchObject({ reason: 'AwaitingPromotion' });
    expect(preview.requeueAfterMs).toBeUndefined();
    expect(checkDue(spec, preview.state, T0 + 1e9)).toBe(false);
    const stillWaiting = stepCanary(input(preview.state, { spec, nowMs: T0 + 1e9, promote: 'app-00001' }));
    expect(stillWaiting).toEqual({ state: preview.state, events: [] });
    const promoted = stepCanary(input(preview.state, { spec, nowMs: T0 + 1e9, promote: 'app-00002' }));
    expect(promoted.state).toMatchObject({ canary: 'app-00002', step: 1, stepStartedMs: T0 + 1e9 });
    expect(promoted.events[0]).toMatchObject({ reason: 'CanaryAdvanced' });
    expect(promoted.requeueAfterMs).toBe(30_000);
  });
});

describe('canaryRollout', () => {
  const desired = {
    configurations: [
      {
        configurationName: 'app',
        tag: '',
        percent: 100,
        revisions: [{ revisionName: 'app-00002', percent: 100 }],
        stepParams: {},
      },
      {
        configurationName: 'app',
        tag: 'latest',
        percent: 100,
        revisions: [{ revisionName: 'app-00002', percent: 100 }],
        stepParams: {},
      },
    ],
  };

  it('splits the default traffic between stable and canary, and leaves tags as asked', () => {
    const running: CanaryState = { ...stable, canary: 'app-00002', step: 1 };
    const rollout = canaryRollout(SPEC, desired, [running]);
    expect(rollout.configurations[0]!.revisions).toEqual([
      { revisionName: 'app-00001', percent: 75 },
      { revisionName: 'app-00002', percent: 25 },
    ]);
    expect(rollout.configurations[1]).toEqual(desired.configurations[1]);
  });

  it('serves the stable revision alone at 0% and after a rollback', () => {
    const preview = canaryRollout({ ...SPEC, steps: [0, 50] }, desired, [{ ...stable, canary: 'app-00002', step: 0 }]);
    expect(preview.configurations[0]!.revisions).toEqual([{ revisionName: 'app-00001', percent: 100 }]);
    const back = canaryRollout(SPEC, desired, [{ ...stable, rolledBack: 'app-00002' }]);
    expect(back.configurations[0]!.revisions).toEqual([{ revisionName: 'app-00001', percent: 100 }]);
  });
});

describe('canaryCondition', () => {
  it('is False after a rollback, Unknown while a canary runs, True otherwise', () => {
    expect(canaryCondition(SPEC, [stable])).toEqual({ status: 'True' });
    expect(canaryCondition(SPEC, [{ ...stable, message: 'done.' }])).toEqual({
      status: 'True',
      reason: 'Succeeded',
      message: 'done.',
    });
    expect(canaryCondition(SPEC, [{ ...stable, canary: 'app-00002', step: 1, message: 'Check passed.' }])).toEqual({
      status: 'Unknown',
      reason: 'CanaryInProgress',
      message: '"app-00002" at 25% (step 2 of 3). Check passed.',
    });
    expect(canaryCondition({ ...SPEC, steps: [0, 5] }, [{ ...stable, canary: 'app-00002', step: 0 }])).toMatchObject({
      status: 'Unknown',
      reason: 'AwaitingPromotion',
    });
    expect(canaryCondition(SPEC, [{ ...stable, rolledBack: 'app-00002', message: 'Rolled back.' }])).toEqual({
      status: 'False',
      reason: 'RolledBack',
      message: 'Rolled back.',
    });
  });
});

describe('abandonedCanaries', () => {
  const running: CanaryState = { ...stable, canary: 'app-00002', step: 1, stepStartedMs: T0 };

  it('tells of each running canary that ends because the annotations went, and of no finished one', () => {
    expect(abandonedCanaries([running, { ...stable, configurationName: 'other', message: 'done' }], undefined)).toEqual(
      [
        {
          type: 'Normal',
          reason: 'CanaryAbandoned',
          message:
            'The canary analysis is off (no canary.pilotlight.dev/steps annotation): "app-00002" takes its whole share at once, without analysis.',
        },
      ],
    );
    expect(abandonedCanaries([stable], undefined)).toEqual([]);
  });

  it('names the invalid annotation as a warning', () => {
    const invalid = new InvalidCanaryAnnotation('canary.pilotlight.dev/steps', '50,5', 'must be rising');
    expect(abandonedCanaries([running], invalid)).toEqual([
      {
        type: 'Warning',
        reason: 'CanaryAbandoned',
        message:
          'The canary annotations are invalid (annotation canary.pilotlight.dev/steps: "50,5" must be rising): "app-00002" takes its whole share at once, without analysis.',
      },
    ]);
  });
});

describe('canary state annotation', () => {
  it('round-trips, and an unreadable one reads as none', () => {
    const states: CanaryState[] = [{ ...stable, canary: 'app-00002', step: 1, stepStartedMs: T0, failures: 1 }];
    expect(parseCanaryStates(serializeCanaryStates(states))).toEqual(states);
    expect(parseCanaryStates('{not json')).toBeUndefined();
    expect(parseCanaryStates('[{"stable":1}]')).toBeUndefined();
    expect(parseCanaryStates(undefined)).toBeUndefined();
  });
});
