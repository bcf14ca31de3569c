import { describe, expect, it } from 'vitest';
import { settlesWithin } from '../../../lib/clock.ts';
import { FakeClock } from '../../../lib/testing/fakeClock.ts';

describe('settlesWithin', () => {
  it('is true when the promise settles first, and leaves no timer behind', async () => {
    const clock = new FakeClock();
    expect(await settlesWithin(clock, Promise.resolve(), 1000)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is false once the time is up on the clock', async () => {
    const clock = new FakeClock();
    const result = settlesWithin(clock, new Promise(() => {}), 1000);
    clock.advance(999);
    await Promise.resolve();
    clock.advance(1);
    expect(await result).toBe(false);
  });
});
