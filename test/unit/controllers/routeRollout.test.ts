// Gradual rollout: the expected numbers are those of upstream's rollout_test.go (knative/serving
// pkg/reconciler/route/traffic), which are the spec; the tests around them are ours.
import { describe, expect, it } from 'vitest';
import { parseNetworkConfig } from '../../../lib/config/network.ts';
import {
  adjustPercentage,
  buildRollout,
  isConsistent,
  isDone,
  observeReady,
  parseRollout,
  planRollout,
  rolledOutSplits,
  rolledOutStatus,
  rolloutDurationSeconds,
  serializeRollout,
  step,
  stepRevisions,
  type ConfigurationRollout,
  type Rollout,
  type RolloutParams,
} from '../../../controllers/route/rollout.ts';
import { groupTargets, type RevisionTarget } from '../../../controllers/route/traffic.ts';

/** A configuration's rollout: revisions as [name, percent], oldest first. */
const cfg = (
  configurationName: string,
  percent: number,
  revisions: [string, number][] = [],
  stepParams: RolloutParams = {},
  tag = '',
): ConfigurationRollout => ({
  configurationName,
  tag,
  percent,
  revisions: revisions.map(([revisionName, p]) => ({ revisionName, percent: p })),
  stepParams,
});
const rollout = (...configurations: ConfigurationRollout[]): Rollout => ({ configurations });

describe('step', () => {
  const now = 2020;
  const cases: { name: string; cur: Rollout; prev?: Rollout; want: Rollout; wantNextStep?: number }[] = [
    { name: 'no prev', cur: rollout(), want: rollout() },
    {
      name: 'prev is empty',
      cur: rollout(cfg('mick', 100, [['let-it-bleed', 100]])),
      prev: rollout(cfg('mick', 100)),
      want: rollout(cfg('mick', 100, [['let-it-bleed', 100]])),
    },
    {
      name: 'simplest, same: the desired params are dropped',
      cur: rollout(
        cfg('mick', 100, [['let-it-bleed', 100]], {
          nextStepTime: 2009,
          stepDuration: 2020,
          startTime: 2004,
          stepSize: 14,
        }),
      ),
      prev: rollout(cfg('mick', 100, [['let-it-bleed', 100]])),
      want: rollout(cfg('mick', 100, [['let-it-bleed', 100]])),
    },
    {
      name: 'simplest, step',
      cur: rollout(cfg('mick', 100, [['let-it-bleed', 100]])),
      prev: rollout(
        cfg(
          'mick',
          100,
          [
            ['their-satanic-majesties-request', 95],
            ['let-it-bleed', 5],
          ],
          { nextStepTime: 2019, stepDuration: 5, startTime: 2004, stepSize: 3 },
        ),
      ),
      want: rollout(
        cfg(
          'mick',
          100,
          [
            ['their-satanic-majesties-request', 92],
            ['let-it-bleed', 8],
          ],
          { nextStepTime: now + 5, stepDuration: 5, startTime: 2004, stepSize: 3 },
        ),
      ),
      wantNextStep: now + 5,
    },
    {
      name: 'multiple configs step: the earliest next step wins',
      cur: rollout(cfg('mick', 42, [['let-it-bleed', 42]]), cfg('keith', 52, [['beggars-banquet', 52]])),
      prev: rollout(
        cfg(
          'mick',
          42,
          [
            ['their-satanic-majesties-request', 37],
            ['let-it-bleed', 5],
          ],
          { nextStepTime: 2019, stepDuration: 43, startTime: 1961, stepSize: 3 },
        ),
        cfg(
          'keith',
          52,
          [
            ['sticky-fingers', 36],
            ['beggars-banquet', 16],
          ],
          { nextStepTime: 2018, stepDuration: 55, startTime: 1971, stepSize: 4 },
        ),
      ),
      want: rollout(
        cfg(
          'keith',
          52,
          [
            ['sticky-fingers', 32],
            ['beggars-banquet', 20],
          ],
          { nextStepTime: now + 55, stepDuration: 55, startTime: 1971, stepSize: 4 },
        ),
        cfg(
          'mick',
          42,
          [
            ['their-satanic-majesties-request', 34],
            ['let-it-bleed', 8],
          ],
          { nextStepTime: now + 43, stepDuration: 43, startTime: 1961, stepSize: 3 },
        ),
      ),
      wantNextStep: now + 43,
    },
    {
      name: 'multiple configs step and roll',
      cur: rollout(cfg('mick', 42, [['let-it-bleed', 42]]), cfg('keith', 52, [['tattoo-you', 52]])),
      prev: rollout(
        cfg(
          'mick',
          42,
          [
            ['their-satanic-majesties-request', 37],
            ['let-it-bleed', 5],
          ],
          { nextStepTime: 2019, stepDuration: 43, startTime: 1961, stepSize: 3 },
        ),
        cfg(
          'keith',
          52,
          [
            ['sticky-fingers', 36],
            ['beggars-banquet', 16],
          ],
          { nextStepTime: 2018, stepDuration: 55, startTime: 1971, stepSize: 4 },
        ),
      ),
      want: rollout(
        cfg(
          'keith',
          52,
          [
            ['sticky-fingers', 36],
            ['beggars-banquet', 15],
            ['tattoo-you', 1],
          ],
          { startTime: 2020 },
        ),
        cfg(
          'mick',
          42,
          [
            ['their-satanic-majesties-request', 34],
            ['let-it-bleed', 8],
          ],
          { nextStepTime: now + 43, stepDuration: 43, startTime: 1961, stepSize: 3 },
        ),
      ),
      wantNextStep: now + 43,
    },
    {
      name: 'no step before the step size is known',
      cur: rollout(
        cfg('mick', 100, [['let-it-bleed', 100]], {
          nextStepTime: 2009,
          stepDuration: 2020,
          startTime: 2004,
          stepSize: 14,
        }),
      ),
      prev: rollout(
        cfg(
          'mick',
          100,
          [
            ['their-satanic-majesties-request', 95],
            ['let-it-bleed', 5],
          ],
          { startTime: 2004 },
        ),
      ),
      want: rollout(
        cfg(
          'mick',
          100,
          [
            ['their-satanic-majesties-request', 95],
            ['let-it-bleed', 5],
          ],
          { startTime: 2004 },
        ),
      ),
    },
    {
      name: 'a configuration cut to 0% leaves the rollout',
      cur: rollout(cfg('charlie', 0, [['aftermath', 0]])),
      prev: rollout(cfg('charlie', 100, [['your-satanic-majesties-request', 100]])),
      want: rollout(),
    },
    {
      name: 'a new configuration at 0% is not recorded',
      cur: rollout(cfg('charlie', 0, [['aftermath', 0]]), cfg('mick', 100, [['between-the-buttons', 100]])),
      prev: rollout(cfg('mick', 100, [['between-the-buttons', 100]])),
      want: rollout(cfg('mick', 100, [['between-the-buttons', 100]])),
    },
    {
      name: 'simplest, roll: a new revision starts at 1% and old params go',
      cur: rollout(cfg('mick', 100, [['let-it-bleed', 100]])),
      prev: rollout(
        cfg('mick', 100, [['goat-head-soup', 100]], {
          nextStepTime: 1984,
          startTime: 1981,
          stepDuration: 1988,
          stepSize: 11,
        }),
      ),
      want: rollout(
        cfg(
          'mick',
          100,
          [
            ['goat-head-soup', 99],
            ['let-it-bleed', 1],
          ],
          { startTime: now },
        ),
      ),
    },
    {
      name: 'roll with the share cut from 42% to 33%',
      cur: rollout(cfg('mick', 33, [['let-it-bleed', 33]])),
      prev: rollout(
        cfg('mick', 42, [
          ['goat-head-soup', 11],
          ['aftermath', 31],
        ]),
      ),
      want: rollout(
        cfg(
          'mick',
          33,
          [
            ['goat-head-soup', 2],
            ['aftermath', 30],
            ['let-it-bleed', 1],
          ],
          { startTime: now },
        ),
      ),
    },
    {
      name: 'roll with the share raised from 25% to 75%',
      cur: rollout(cfg('mick', 75, [['let-it-bleed', 75]])),
      prev: rollout(
        cfg('mick', 25, [
          ['goat-head-soup', 11],
          ['aftermath', 14],
        ]),
      ),
      want: rollout(
        cfg(
          'mick',
          75,
          [
            ['goat-head-soup', 11],
            ['aftermath', 63],
            ['let-it-bleed', 1],
          ],
          { startTime: now },
        ),
      ),
    },
    {
      name: 'roll where the configuration has 70% (a revision target has the rest)',
      cur: rollout(cfg('brian', 70, [['let-it-bleed', 70]])),
      prev: rollout(cfg('brian', 70, [['exile-on-main-st', 70]])),
      want: rollout(
        cfg(
          'brian',
          70,
          [
            ['exile-on-main-st', 69],
            ['let-it-bleed', 1],
          ],
          { startTime: now },
        ),
      ),
    },
    {
      name: 'a newer revision mid-rollout takes its 1% from the one rolling in',
      cur: rollout(cfg('mick', 100, [['sticky-fingers', 100]])),
      prev: rollout(
        cfg(
          'mick',
          100,
          [
            ['goat-head-soup', 95],
            ['beggars-banquet', 5],
          ],
          { startTime: now - 1982 },
        ),
      ),
      want: rollout(
        cfg(
          'mick',
          100,
          [
            ['goat-head-soup', 95],
            ['beggars-banquet', 4],
            ['sticky-fingers', 1],
          ],
          { startTime: now },
        ),
      ),
    },
    {
      name: 'two fast rolls: the revision at 1% is dropped',
      cur: rollout(cfg('mick', 100, [['between-the-buttons', 100]])),
      prev: rollout(
        cfg(
          'mick',
          100,
          [
            ['goat-head-soup', 99],
            ['bridges-to-babylon', 1],
          ],
          { startTime: now - 1984 },
        ),
      ),
      want: rollout(
        cfg(
          'mick',
          100,
          [
            ['goat-head-soup', 99],
            ['between-the-buttons', 1],
          ],
          { startTime: now },
        ),
      ),
    },
    {
      name: 'a configuration at 1% switches at once',
      cur: rollout(cfg('mick', 1, [['between-the-buttons', 1]])),
      prev: rollout(cfg('mick', 1, [['bridges-to-babylon', 1]])),
      want: rollout(cfg('mick', 1, [['between-the-buttons', 1]])),
    },
    {
      name: 'a new tag has nothing to roll from',
      cur: rollout(
        cfg('mick', 100, [['black-on-blue', 100]]),
        cfg('mick', 100, [['black-on-blue', 100]], {}, 'jagger'),
      ),
      prev: rollout(cfg('mick', 100, [['black-on-blue', 100]])),
      want: rollout(
        cfg('mick', 100, [['black-on-blue', 100]]),
        cfg('mick', 100, [['black-on-blue', 100]], {}, 'jagger'),
      ),
    },
    {
      name: 'a deleted configuration leaves the rollout',
      cur: rollout(cfg('mick', 100, [["it's-only-rock-n-roll", 100]])),
      prev: rollout(cfg('keith', 50, [['black-on-blue', 50]]), cfg('mick', 50, [["it's-only-rock-n-roll", 50]])),
      want: rollout(cfg('mick', 100, [["it's-only-rock-n-roll", 100]])),
    },
    {
      name: 'a/b configurations: the 99% one rolls, the 1% one switches',
      cur: rollout(cfg('keith', 99, [['black-on-blue', 99]]), cfg('mick', 1, [["it's-only-rock-n-roll", 1]])),
      prev: rollout(cfg('keith', 99, [["can't-get-no-satisfaction", 99]]), cfg('mick', 1, [['get-off-my-cloud', 1]])),
      want: rollout(
        cfg(
          'keith',
          99,
          [
            ["can't-get-no-satisfaction", 98],
            ['black-on-blue', 1],
          ],
          { startTime: now },
        ),
        cfg('mick', 1, [["it's-only-rock-n-roll", 1]]),
      ),
    },
    {
      name: 'a new configuration sorting first does not roll',
      cur: rollout(cfg('keith', 50, [['black-on-blue', 50]]), cfg('mick', 50, [["it's-only-rock-n-roll", 50]])),
      prev: rollout(cfg('mick', 100, [["it's-only-rock-n-roll", 100]])),
      want: rollout(cfg('keith', 50, [['black-on-blue', 50]]), cfg('mick', 50, [["it's-only-rock-n-roll", 50]])),
    },
    {
      name: 'a new configuration sorting last does not roll',
      cur: rollout(cfg('keith', 50, [['black-on-blue', 50]]), cfg('mick', 50, [["it's-only-rock-n-roll", 50]])),
      prev: rollout(cfg('keith', 100, [['black-on-blue', 100]])),
      want: rollout(cfg('keith', 50, [['black-on-blue', 50]]), cfg('mick', 50, [["it's-only-rock-n-roll", 50]])),
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = step(c.cur, c.prev, now);
      expect(got.rollout).toEqual(c.want);
      expect(isConsistent(got.rollout)).toBe(true);
      expect(got.nextStepTime).toBe(c.wantNextStep ?? 0);
    });
  }

  it('leaves its inputs as they were', () => {
    const prev = rollout(
      cfg(
        'mick',
        100,
        [
          ['a', 95],
          ['b', 5],
        ],
        { nextStepTime: 2019, stepDuration: 5, startTime: 2004, stepSize: 3 },
      ),
    );
    const before = structuredClone(prev);
    step(rollout(cfg('mick', 100, [['c', 100]])), prev, now);
    step(rollout(cfg('mick', 100, [['b', 100]])), prev, now);
    expect(prev).toEqual(before);
  });
});

describe('observeReady', () => {
  const now = 200620092020 + 1982;
  const oldenDays = 198219841988;
  const ancientDays = 14921812;
  const second = 1e9;

  it("sets each started rollout's step length and size from how long its first 1% took", () => {
    const got = observeReady(
      rollout(
        cfg('has-step', 100, [], { stepDuration: 11 }),
        cfg('no-step-no-begin', 100),
        cfg('step-begin < 1s', 100, [], { startTime: 200620092020 }),
        cfg('step-begin > 1s', 100, [], { startTime: oldenDays }),
        cfg('step-begin > 1s, step size round up', 75, [], { startTime: oldenDays }),
        cfg('Percent not 100%', 50, [], { startTime: oldenDays }),
        // The first 1% took longer than the whole rollout: the rest goes in one step.
        cfg('días antiguos', 13, [], { startTime: ancientDays }),
      ),
      now,
      120,
    );
    expect(got).toEqual(
      rollout(
        cfg('has-step', 100, [], { stepDuration: 11 }),
        cfg('no-step-no-begin', 100),
        cfg('step-begin < 1s', 100, [], {
          startTime: 200620092020,
          stepDuration: 1202020202, // 119 s / 99 steps
          stepSize: 1,
          nextStepTime: now + 1202020202,
        }),
        cfg('step-begin > 1s', 100, [], {
          startTime: oldenDays,
          stepDuration: 3 * second,
          stepSize: 3,
          nextStepTime: now + 3 * second,
        }),
        cfg('step-begin > 1s, step size round up', 75, [], {
          startTime: oldenDays,
          stepDuration: 3 * second,
          stepSize: 2,
          nextStepTime: now + 3 * second,
        }),
        cfg('Percent not 100%', 50, [], {
          startTime: oldenDays,
          stepDuration: 3 * second,
          stepSize: 1,
          nextStepTime: now + 3 * second,
        }),
        cfg('días antiguos', 13, [], {
          startTime: ancientDays,
          stepDuration: second,
          stepSize: 12,
          nextStepTime: now + second,
        }),
      ),
    );
  });
});

describe('adjustPercentage', () => {
  const pcts = (...percents: number[]) => percents.map((percent, i) => ({ revisionName: `r${i}`, percent }));
  const cases: { name: string; goal: number; current: number; revisions: number[]; want: number[] }[] = [
    { name: 'unchanged at 100%', goal: 100, current: 100, revisions: [71, 29], want: [71, 29] },
    { name: 'unchanged at 42%', goal: 42, current: 42, revisions: [21, 21], want: [21, 21] },
    { name: 'a raise goes to the newest', goal: 75, current: 42, revisions: [21, 21], want: [21, 54] },
    { name: 'a cut empties the oldest', goal: 42, current: 75, revisions: [21, 54], want: [42] },
    { name: 'a cut empties one, trims the next', goal: 42, current: 75, revisions: [21, 22, 32], want: [10, 32] },
    { name: 'a cut empties two, trims the third', goal: 42, current: 75, revisions: [10, 5, 60], want: [42] },
    { name: 'down to 0%', goal: 0, current: 75, revisions: [10, 5, 60], want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = adjustPercentage(c.goal, pcts(...c.revisions), c.current);
      expect(got.map((r) => r.percent)).toEqual(c.want);
    });
  }
});

describe('stepRevisions', () => {
  const pcts = (...percents: number[]): [string, number][] => percents.map((p, i) => [`r${i}`, p]);
  const numbers = (c: ConfigurationRollout) => ({ percents: c.revisions.map((r) => r.percent), params: c.stepParams });

  it('waits when the step is not yet due', () => {
    const c = cfg('c', 75, pcts(10, 5, 60), { nextStepTime: 1984, stepSize: 10 });
    expect(stepRevisions(c, 1982)).toEqual(c);
  });

  it('does nothing once done', () => {
    const c = cfg('c', 10, pcts(10), { nextStepTime: 1984, stepDuration: 10, stepSize: 10 });
    expect(stepRevisions(c, 1982)).toEqual(c);
  });

  it('steps at exactly the due time', () => {
    const c = cfg('c', 90, pcts(30, 60), { nextStepTime: 1984, stepSize: 10, stepDuration: 55 });
    expect(numbers(stepRevisions(c, 1984))).toEqual({
      percents: [20, 70],
      params: { nextStepTime: 1984 + 55, stepSize: 10, stepDuration: 55 },
    });
  });

  it('drops the revisions a step drains, newest-but-one first', () => {
    const c = cfg('c', 90, pcts(22, 5, 3, 60), { nextStepTime: 1984, stepSize: 10, stepDuration: 55 });
    expect(numbers(stepRevisions(c, 1988))).toEqual({
      percents: [20, 70],
      params: { nextStepTime: 1988 + 55, stepSize: 10, stepDuration: 55 },
    });
  });

  it('caps the newest at the share, which ends the rollout', () => {
    const c = cfg('c', 15, pcts(5, 1, 1, 8), { nextStepTime: 1984, stepSize: 10, stepDuration: 77 });
    expect(numbers(stepRevisions(c, 1988))).toEqual({ percents: [15], params: {} });
  });

  it('the very last step clears the params', () => {
    const c = cfg('c', 15, pcts(5, 1, 1, 8), { nextStepTime: 1984, startTime: 1977, stepSize: 8, stepDuration: 77 });
    expect(numbers(stepRevisions(c, 2006))).toEqual({ percents: [15], params: {} });
  });
});

describe('the annotation', () => {
  it('is discarded when it does not add up', () => {
    const inconsistent = [
      rollout(cfg('keith', 101, [['black-on-blue', 101]])),
      rollout(cfg('keith', 71, [['black-on-blue', 71]], { stepSize: 75 })),
      rollout(cfg('keith', 71, [['black-on-blue', 71]], { stepSize: -1 })),
      rollout(cfg('keith', 42, [['black-on-blue', 43]])),
      rollout(
        cfg('keith', 42, [
          ['black-on-blue', 41],
          ['smith', 3],
        ]),
      ),
      rollout(cfg('rob', 10, [['roy', 10]]), cfg('keith', 101, [['black-on-blue', 101]], {}, 'richards')),
    ];
    for (const r of inconsistent) {
      expect(isConsistent(r)).toBe(false);
      expect(parseRollout(serializeRollout(r))).toBeUndefined();
    }
  });

  it('is discarded when it is not a rollout at all', () => {
    for (const text of ['{', '[]', '{"configurations":[{"percent":"100"}]}', '{"configurations":[{"percent":1.5}]}'])
      expect(parseRollout(text)).toBeUndefined();
    expect(parseRollout(undefined)).toBeUndefined();
  });

  it("round-trips, in upstream's JSON with nanosecond times past 2^53", () => {
    const r = rollout(
      cfg('many', 100, [
        ['black-on-blue', 83],
        ['flowers', 17],
      ]),
      cfg('no', 0),
      cfg('one', 100, [['roy', 100]], { startTime: 1955, nextStepTime: 1765000000123000000, stepDuration: 1984 }),
    );
    const text = serializeRollout(r);
    expect(text).toBe(
      '{"configurations":[' +
        '{"configurationName":"many","percent":100,"revisions":[{"revisionName":"black-on-blue","percent":83},{"revisionName":"flowers","percent":17}],"stepParams":{}},' +
        '{"configurationName":"no","percent":0,"stepParams":{}},' +
        '{"configurationName":"one","percent":100,"revisions":[{"revisionName":"roy","percent":100}],' +
        '"stepParams":{"starttime":1955,"nextStepTime":1765000000123000000,"stepDuration":1984}}]}',
    );
    expect(parseRollout(text)).toEqual(r);
    expect(serializeRollout(rollout())).toBe('{}');
    expect(parseRollout('{}')).toEqual(rollout());
  });

  it('reads a tagged rollout', () => {
    const r = rollout(cfg('two', 100, [['wish', 100]], {}, 'gilberto'));
    expect(parseRollout(serializeRollout(r))).toEqual(r);
    expect(serializeRollout(r)).toContain('"tag":"gilberto"');
  });
});

describe('isDone', () => {
  it('is done only when no configuration has two revisions', () => {
    const done = [cfg('nil', 100), cfg('one', 100, [['roy', 100]]), cfg('no', 0)];
    const many = cfg('many', 100, [
      ['black-on-blue', 83],
      ['flowers', 17],
    ]);
    expect(isDone(rollout(...done))).toBe(true);
    expect(isDone(rollout(...done, many))).toBe(false);
  });
});

describe('the rollout duration', () => {
  const network = (d?: string) => parseNetworkConfig(d === undefined ? {} : { 'rollout-duration': d });
  it("is the Route's annotation, else config-network's", () => {
    expect(rolloutDurationSeconds({ 'serving.knative.dev/rollout-duration': '90s' }, network('30s'))).toBe(90);
    expect(rolloutDurationSeconds({ 'serving.knative.dev/rolloutDuration': '2m' }, network())).toBe(120);
    expect(rolloutDurationSeconds({}, network('30s'))).toBe(30);
    expect(rolloutDurationSeconds(undefined, network())).toBe(0);
    // Present but empty: the first key wins all the same, and means "not set".
    expect(
      rolloutDurationSeconds(
        { 'serving.knative.dev/rollout-duration': '', 'serving.knative.dev/rolloutDuration': '2m' },
        network('30s'),
      ),
    ).toBe(30);
    // Below a second truncates to 0, which defers to the config; a negative one turns it off.
    expect(rolloutDurationSeconds({ 'serving.knative.dev/rollout-duration': '500ms' }, network('30s'))).toBe(30);
    expect(rolloutDurationSeconds({ 'serving.knative.dev/rollout-duration': '-1s' }, network('30s'))).toBe(-1);
  });
});

describe('planRollout over a whole rollout', () => {
  const target = (revisionName: string, percent = 100, extra: Partial<RevisionTarget> = {}): RevisionTarget => ({
    revisionName,
    configurationName: 'app',
    latestRevision: true,
    percent,
    protocol: 'http1',
    ...extra,
  });
  const desired = (...targets: RevisionTarget[]) => buildRollout(groupTargets(targets));
  const newestPercent = (r: Rollout) => r.configurations[0]!.revisions.at(-1)!.percent;
  const start = 1_765_000_000_000;

  /**
   * Runs the reconciler's loop: each reconcile hands the recorded state back in; the Ingress
   * takes readyAfterMs to serve a new split, and reconciles happen only when due.
   */
  function run(durationSeconds: number, readyAfterMs: number) {
    let state = planRollout({
      desired: desired(target('app-1')),
      previous: undefined,
      durationSeconds,
      ingressReady: false,
      routeIngressReady: false,
      nowMs: start,
    }).rollout;
    // app-2 becomes the latest ready revision.
    const begun = planRollout({
      desired: desired(target('app-2')),
      previous: state,
      durationSeconds,
      ingressReady: true,
      routeIngressReady: true,
      nowMs: start,
    });
    expect(begun.requeueAfterMs).toBeUndefined();
    state = begun.rollout;
    let now = start + readyAfterMs;
    const schedule: { atMs: number; percent: number }[] = [{ atMs: 0, percent: newestPercent(state) }];
    for (let i = 0; i < 200 && !isDone(state); i++) {
      const plan = planRollout({
        desired: desired(target('app-2')),
        previous: state,
        durationSeconds,
        ingressReady: true,
        routeIngressReady: false,
        nowMs: now,
      });
      if (newestPercent(plan.rollout) !== newestPercent(state))
        schedule.push({ atMs: now - start, percent: newestPercent(plan.rollout) });
      state = plan.rollout;
      if (plan.requeueAfterMs !== undefined) now += plan.requeueAfterMs;
    }
    return { schedule, state };
  }

  it('120s with a quick Ingress: 1% at a time, every 119/99 s', () => {
    const { schedule, state } = run(120, 300);
    expect(schedule.map((s) => s.percent)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // 1 s for the first 1%, then 99 steps of 1202.020202 ms (rounded up to the millisecond).
    expect(schedule[1]!.atMs).toBe(300 + 1203);
    expect(schedule.at(-1)!.atMs).toBe(300 + 99 * 1203);
    expect(state).toEqual(desired(target('app-2')));
  });

  it('120s when the first 1% took 10 s: steps of 9 points every 10 s', () => {
    const { schedule } = run(120, 10_000);
    expect(schedule).toEqual([
      { atMs: 0, percent: 1 },
      ...Array.from({ length: 11 }, (_, i) => ({ atMs: 10_000 * (i + 2), percent: 10 + 9 * i })),
    ]);
  });

  it('60s: 2 points a second, the last step capped at 100', () => {
    const { schedule } = run(60, 200);
    // 59 s left for 99 points: 59 steps of round(99/59) = 2 points, capped at 100.
    expect(schedule.map((s) => s.percent)).toEqual([1, ...Array.from({ length: 49 }, (_, i) => 3 + 2 * i), 100]);
    expect(schedule.slice(1).map((s) => s.atMs)).toEqual(Array.from({ length: 50 }, (_, i) => 200 + 1000 * (i + 1)));
  });

  it('is off at 0 s: the new revision takes it all at once', () => {
    const plan = planRollout({
      desired: desired(target('app-2')),
      previous: desired(target('app-1')),
      durationSeconds: 0,
      ingressReady: true,
      routeIngressReady: true,
      nowMs: start,
    });
    expect(plan).toEqual({ rollout: desired(target('app-2')) });
  });

  it('does not time the steps while the Route already counted the Ingress ready', () => {
    const begun = planRollout({
      desired: desired(target('app-2')),
      previous: desired(target('app-1')),
      durationSeconds: 120,
      ingressReady: true,
      routeIngressReady: true,
      nowMs: start,
    }).rollout;
    const again = planRollout({
      desired: desired(target('app-2')),
      previous: begun,
      durationSeconds: 120,
      ingressReady: true,
      routeIngressReady: true,
      nowMs: start + 5000,
    });
    expect(again).toEqual({ rollout: begun });
  });

  it('a newer revision mid-rollout joins at 1%, and the one rolling in drains first', () => {
    let state = desired(target('app-1'));
    let now = start;
    const plan = (latest: string, routeIngressReady = false) => {
      const p = planRollout({
        desired: desired(target(latest)),
        previous: state,
        durationSeconds: 120,
        ingressReady: true,
        routeIngressReady,
        nowMs: now,
      });
      state = p.rollout;
      return p;
    };
    plan('app-2', true);
    now += 10_000;
    let p = plan('app-2'); // step 9 points every 10 s
    for (let i = 0; i < 3; i++) {
      now += p.requeueAfterMs!;
      p = plan('app-2');
    }
    const revisions = () => state.configurations[0]!.revisions.map((r) => [r.revisionName, r.percent]);
    expect(revisions()).toEqual([
      ['app-1', 72],
      ['app-2', 28],
    ]);
    p = plan('app-3');
    expect(p.requeueAfterMs).toBeUndefined();
    expect(revisions()).toEqual([
      ['app-1', 72],
      ['app-2', 27],
      ['app-3', 1],
    ]);
    // The Ingress served that in 1 s: 1% steps every 119/99 s, taken from app-2 before app-1.
    now += 1000;
    p = plan('app-3');
    expect(p.requeueAfterMs).toBe(1203);
    for (let i = 0; i < 27; i++) {
      now += p.requeueAfterMs!;
      p = plan('app-3');
    }
    expect(revisions()).toEqual([
      ['app-1', 72],
      ['app-3', 28],
    ]);
    for (let i = 0; i < 100 && !isDone(state); i++) {
      now += p.requeueAfterMs!;
      p = plan('app-3');
    }
    expect(revisions()).toEqual([['app-3', 100]]);
    expect(p.requeueAfterMs).toBeUndefined();
  });
});

describe('the rolled-out traffic', () => {
  const t = (revisionName: string, percent: number, extra: Partial<RevisionTarget> = {}): RevisionTarget => ({
    revisionName,
    latestRevision: false,
    percent,
    protocol: 'h2c',
    ...extra,
  });
  const latest = { configurationName: 'app', latestRevision: true };
  const state = rollout(
    cfg('app', 90, [
      ['app-1', 60],
      ['app-2', 30],
    ]),
    cfg('app', 100, [['app-2', 100]], {}, 'candidate'),
  );

  it('splits a rolling configuration target into its revisions, keeping pinned targets', () => {
    const split = rolledOutSplits('', [t('app-2', 90, latest), t('old', 10)], state);
    expect(split).toEqual([t('app-1', 60, latest), t('app-2', 30, latest), t('old', 10)]);
    // A rollout of one revision is no rollout: the target stays as it is.
    expect(rolledOutSplits('candidate', [t('app-2', 100, { ...latest, tag: 'candidate' })], state)).toEqual([
      t('app-2', 100, { ...latest, tag: 'candidate' }),
    ]);
    // Unless that one revision is another: a canary's stable revision, after a rollback.
    const rolledBack = { configurations: [cfg('app', 100, [['app-1', 100]])] };
    expect(rolledOutSplits('', [t('app-2', 100, latest)], rolledBack)).toEqual([t('app-1', 100, latest)]);
  });

  it("shows the rollout's revisions in the status", () => {
    const status = rolledOutStatus([t('app-2', 90, latest), t('app-2', 0, { ...latest, tag: 'candidate' })], state);
    expect(status).toEqual([
      t('app-1', 60, latest),
      t('app-2', 30, latest),
      t('app-2', 100, { ...latest, tag: 'candidate' }),
    ]);
  });
});
