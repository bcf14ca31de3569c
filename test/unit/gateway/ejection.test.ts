import { describe, expect, it } from 'vitest';
import { ejectionMs } from '../../../gateway/proxy.ts';

describe('ejectionMs', () => {
  it('starts short, doubles for each ejection in a row, and stops at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(ejectionMs)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(ejectionMs(10_000)).toBe(30_000);
  });
});
