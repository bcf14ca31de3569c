// Time for tests that drive real reconcilers against a real API server through timed work (a
// rollout's steps): it stands still until the test moves it, so durations come out exact.
import type { Clock, Timer } from '../../lib/clock.ts';

interface Pending {
  at: number;
  fire(): void;
}

/**
 * Like FakeClock, now() moves only on advance(), which fires the timers that fall due. Unlike
 * it, every timer also fires after its delay in real time, so the retries and backoffs of
 * controllers, informers and watches keep running between steps; a timer fires once.
 */
export class SteppedClock implements Clock {
  #now: number;
  readonly #pending = new Set<Pending>();

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const entry: Pending = {
      at: this.#now + Math.max(0, ms),
      fire: () => {
        if (!this.#pending.delete(entry)) return;
        clearTimeout(handle);
        fn();
      },
    };
    const handle = setTimeout(entry.fire, ms);
    this.#pending.add(entry);
    return {
      cancel: () => {
        this.#pending.delete(entry);
        clearTimeout(handle);
      },
    };
  }

  /** Moves time forward by ms and fires, in due order, the timers that fall due. */
  advance(ms: number): void {
    this.#now += ms;
    const due = [...this.#pending].filter((p) => p.at <= this.#now).sort((a, b) => a.at - b.at);
    for (const entry of due) entry.fire();
  }
}
