import { describe, expect, it } from 'vitest';
import { allTotals, secondsOf, totals } from '../../../harness/rolloutTimeline.ts';

describe("a rollout's k6 counts as seconds", () => {
  const seconds = secondsOf({
    answers: [
      { second: 0, revision: 'v1', status: 200, count: 50 },
      { second: 2, revision: 'v1', status: 200, count: 45 },
      { second: 2, revision: 'v2', status: 200, count: 4 },
      { second: 2, revision: 'v2', status: 500, count: 1 },
      { second: 2, revision: null, status: 0, count: 2 },
    ],
    p99BySecond: [{ second: 2, p99Ms: 12.5 }],
  });

  it('has every second up to the last answered, empty ones too', () => {
    expect(seconds.map((s) => s.second)).toEqual([0, 1, 2]);
    expect(seconds[1]).toEqual({
      second: 1,
      byRevision: {},
      unattributed: { requests: 0, errors: 0 },
      p99Ms: undefined,
    });
    expect(seconds[2]).toEqual({
      second: 2,
      byRevision: { v1: { requests: 45, errors: 0 }, v2: { requests: 5, errors: 1 } },
      unattributed: { requests: 2, errors: 2 },
      p99Ms: 12.5,
    });
  });

  it('adds up per revision, for answers without one, and for all', () => {
    expect(totals(seconds, 'v1')).toEqual({ requests: 95, errors: 0 });
    expect(totals(seconds, 'v2')).toEqual({ requests: 5, errors: 1 });
    expect(totals(seconds, null)).toEqual({ requests: 2, errors: 2 });
    expect(allTotals(seconds)).toEqual({ requests: 102, errors: 3 });
  });
});
