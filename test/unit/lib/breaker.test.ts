import { describe, expect, it } from 'vitest';
import { Breaker, type BreakerWaiter } from '../../../lib/breaker.ts';

const waiter = (log: string[], name: string): BreakerWaiter => ({ admitted: () => log.push(name) });

describe('Breaker', () => {
  it('admits up to its concurrency, queues in arrival order up to its depth, then rejects', () => {
    const breaker = new Breaker(2, 2);
    const log: string[] = [];
    expect(['a', 'b', 'c', 'd', 'e'].map((n) => breaker.enter(waiter(log, n)))).toEqual([
      'admitted',
      'admitted',
      'queued',
      'queued',
      'rejected',
    ]);
    breaker.release();
    breaker.release();
    expect(log).toEqual(['c', 'd']);
    expect(breaker.active).toBe(2);
    breaker.release();
    breaker.release();
    expect(breaker.active).toBe(0);
  });

  it('skips a withdrawn waiter', () => {
    const breaker = new Breaker(1, 5);
    const log: string[] = [];
    breaker.enter(waiter(log, 'a'));
    const leaving = waiter(log, 'b');
    breaker.enter(leaving);
    breaker.enter(waiter(log, 'c'));
    breaker.withdraw(leaving);
    breaker.release();
    expect(log).toEqual(['c']);
    expect(breaker.queued).toBe(0);
  });

  it('holds everything at capacity 0 and admits waiters in order as capacity is raised', () => {
    const breaker = new Breaker(0, 10);
    const log: string[] = [];
    expect(['a', 'b', 'c'].map((n) => breaker.enter(waiter(log, n)))).toEqual(['queued', 'queued', 'queued']);
    breaker.setCapacity(2);
    expect(log).toEqual(['a', 'b']);
    breaker.setCapacity(Infinity);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(breaker.active).toBe(3);
  });

  it('lets slots in use run out after a capacity cut before admitting again', () => {
    const breaker = new Breaker(2, 10);
    const log: string[] = [];
    breaker.enter(waiter(log, 'a'));
    breaker.enter(waiter(log, 'b'));
    breaker.setCapacity(1);
    expect(breaker.enter(waiter(log, 'c'))).toBe('queued');
    breaker.release();
    expect(log).toEqual([]);
    breaker.release();
    expect(log).toEqual(['c']);
  });

  it('refuses every entry with a queue depth of 0 once full, for use as a non-blocking slot', () => {
    const breaker = new Breaker(1, 0);
    expect(breaker.enter(waiter([], 'a'))).toBe('admitted');
    expect(breaker.enter(waiter([], 'b'))).toBe('rejected');
  });
});
