import { describe, expect, it } from 'vitest';
import { SlidingMax } from '../../../autoscaler/scaling/slidingMax.ts';

describe('SlidingMax', () => {
  it('is 0 before any record', () => {
    expect(new SlidingMax(10_000, 2000).current()).toBe(0);
  });

  it('holds a peak for the window, then falls to the largest value still inside', () => {
    // 10s of 2s slots = 5 slots; a value recorded in slot k counts until slot k + 5
    const m = new SlidingMax(10_000, 2000);
    const at = (ms: number, value: number) => {
      m.record(ms, value);
      return m.current();
    };
    expect(at(2000, 4)).toBe(4); // slot 1
    expect(at(4000, 0)).toBe(4); // slot 2
    expect(at(6000, 2)).toBe(4); // slot 3
    expect(at(10_000, 0)).toBe(4); // slot 5: 5 − 1 < 5
    expect(at(12_000, 0)).toBe(2); // slot 6: the 4 of slot 1 leaves, the 2 of slot 3 remains
    expect(at(16_000, 0)).toBe(0); // slot 8: the 2 leaves
  });

  it('keeps the larger of two values in one slot', () => {
    const m = new SlidingMax(10_000, 2000);
    m.record(2000, 5);
    m.record(3000, 3);
    expect(m.current()).toBe(5);
    m.record(12_000, 0); // slot 6 evicts slot 1, and the 3 went with it
    expect(m.current()).toBe(0);
  });
});
