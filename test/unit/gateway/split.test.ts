import { describe, expect, it } from 'vitest';
import { SplitSchedule, pickUpstream, xorshiftRandomInt, type Upstream } from '../../../gateway/routing/split.ts';

function picks(weights: number[], count: number): number[] {
  const schedule = SplitSchedule.of(weights)!;
  return Array.from({ length: count }, () => schedule.next());
}

const countsOf = (indices: number[], splits: number): number[] => {
  const counts = new Array<number>(splits).fill(0);
  for (const index of indices) counts[index]!++;
  return counts;
};

describe('SplitSchedule', () => {
  for (const weights of [
    [90, 10],
    [33, 33, 34],
    [1, 99],
    [0, 50, 0, 50],
    [25, 25, 25, 25],
  ]) {
    it(`${weights.join('/')}: exact in every window of 100 consecutive picks, sliding, over 10,000 picks`, () => {
      const sequence = picks(weights, 10_000);
      // Sliding by one: counts change only by the pick that leaves and the one that enters.
      const window = countsOf(sequence.slice(0, 100), weights.length);
      const inexactWindowStarts: number[] = window.some((count, i) => count !== weights[i]) ? [0] : [];
      for (let start = 1; start + 100 <= sequence.length; start++) {
        window[sequence[start - 1]!]!--;
        window[sequence[start + 99]!]!++;
        if (window.some((count, i) => count !== weights[i])) inexactWindowStarts.push(start);
      }
      expect(inexactWindowStarts).toEqual([]);
      const totals = countsOf(sequence, weights.length);
      for (const [i, total] of totals.entries())
        expect(Math.abs(total / 10_000 - weights[i]! / 100)).toBeLessThanOrEqual(0.01);
    });
  }

  it('never picks a split of weight 0', () => {
    const sequence = picks([0, 70, 0, 30, 0], 1_000);
    expect(new Set(sequence)).toEqual(new Set([1, 3]));
  });

  it('interleaves the minority split instead of sending it in a burst', () => {
    const sequence = picks([90, 10], 100);
    const minority = sequence.flatMap((index, position) => (index === 1 ? [position] : []));
    const gaps = minority.slice(1).map((position, i) => position - minority[i]!);
    expect(gaps).toEqual(new Array(9).fill(10));
  });

  it('has no schedule when every weight is 0 or invalid', () => {
    expect(SplitSchedule.of([0, 0])).toBeUndefined();
    expect(SplitSchedule.of([])).toBeUndefined();
    expect(SplitSchedule.of([-5, Number.NaN])).toBeUndefined();
  });

  it('keeps the proportions when the weights do not sum to 100', () => {
    const schedule = SplitSchedule.of([2, 1])!;
    expect(schedule.period).toBe(3);
    expect(
      countsOf(
        Array.from({ length: 30 }, () => schedule.next()),
        2,
      ),
    ).toEqual([20, 10]);
  });
});

describe('pickUpstream (power of two choices)', () => {
  const upstream = (address: string, inFlight: number, ejected = false): Upstream => ({
    address,
    host: address,
    port: 8012,
    inFlight,
    ejected,
    ejections: ejected ? 1 : 0,
  });

  it('never picks an ejected endpoint while one is healthy, however idle it looks', () => {
    const endpoints = [upstream('refusing', 0, true), upstream('busy', 50), upstream('refusing-too', 0, true)];
    const randomInt = xorshiftRandomInt(7);
    for (let i = 0; i < 1000; i++) expect(pickUpstream(endpoints, randomInt)).toBe(1);
  });

  it('picks among ejected endpoints by load when every endpoint is ejected', () => {
    const endpoints = [upstream('a', 2, true), upstream('b', 0, true)];
    const randomInt = xorshiftRandomInt(3);
    for (let i = 0; i < 100; i++) expect(pickUpstream(endpoints, randomInt)).toBe(1);
  });

  it('always takes the less loaded of two endpoints, whatever the random draws', () => {
    const endpoints = [upstream('a', 5), upstream('b', 1)];
    const randomInt = xorshiftRandomInt(1);
    for (let i = 0; i < 100; i++) expect(pickUpstream(endpoints, randomInt)).toBe(1);
  });

  it('never picks the most loaded of many endpoints and favours the idle ones', () => {
    const endpoints = [upstream('busy', 100), upstream('idle-1', 0), upstream('warm', 10), upstream('idle-2', 0)];
    const randomInt = xorshiftRandomInt(42);
    const counts = countsOf(
      Array.from({ length: 10_000 }, () => pickUpstream(endpoints, randomInt)),
      endpoints.length,
    );
    expect(counts[0]).toBe(0);
    // An idle endpoint wins every draw it is in (and ties split evenly): 5/12 of picks each; warm only beats busy: 1/6.
    expect(counts[1]! + counts[3]!).toBeGreaterThan(counts[2]! * 4);
  });

  it('draws two distinct endpoints: the second draw skips over the first', () => {
    const endpoints = [upstream('a', 3), upstream('b', 3), upstream('idle', 0)];
    const scripted =
      (...draws: number[]) =>
      () =>
        draws.shift()!;
    // Draws 2 then 0: idle is among them.
    expect(pickUpstream(endpoints, scripted(2, 0))).toBe(2);
    // Draws 0 then 1 of the two others, which is index 2 once index 0 is skipped.
    expect(pickUpstream(endpoints, scripted(0, 1))).toBe(2);
  });

  it('sends everything to a single endpoint without drawing', () => {
    expect(
      pickUpstream([upstream('only', 7)], () => {
        throw new Error('must not draw');
      }),
    ).toBe(0);
  });

  it('reads load live, so a counter change steers the next pick', () => {
    const endpoints = [upstream('a', 0), upstream('b', 0)];
    const randomInt = xorshiftRandomInt(7);
    endpoints[0]!.inFlight = 2;
    expect(pickUpstream(endpoints, randomInt)).toBe(1);
    endpoints[1]!.inFlight = 3;
    expect(pickUpstream(endpoints, randomInt)).toBe(0);
  });
});
