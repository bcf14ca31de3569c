// Enforces containerConcurrency: at most `maxConcurrency` requests in the user container and
// at most `queueDepth` more waiting, in arrival order; beyond that requests are refused at once
// (S:pkg/queue/breaker.go). Single-threaded, so plain counters replace Knative's atomics.

export interface BreakerWaiter {
  /** Called when a queued waiter gets its slot; it must call release() when done. */
  admitted(): void;
}

export type BreakerEntry = 'admitted' | 'queued' | 'rejected';

export class Breaker {
  readonly maxConcurrency: number;
  readonly queueDepth: number;
  #active = 0;
  #queue: BreakerWaiter[] = [];
  #head = 0;

  constructor(maxConcurrency: number, queueDepth: number) {
    if (maxConcurrency < 1) throw new RangeError(`breaker concurrency must be at least 1, got ${maxConcurrency}`);
    this.maxConcurrency = maxConcurrency;
    this.queueDepth = queueDepth;
  }

  get active(): number { return this.#active; }
  get queued(): number { return this.#queue.length - this.#head; }

  /** Admits now, queues, or rejects when capacity and queue are both full. */
  enter(waiter: BreakerWaiter): BreakerEntry {
    if (this.#active < this.maxConcurrency && this.queued === 0) {
      this.#active++;
      return 'admitted';
    }
    if (this.queued >= this.queueDepth) return 'rejected';
    this.#queue.push(waiter);
    return 'queued';
  }

  /** Gives a slot back and hands it to the oldest waiter, if any. */
  release(): void {
    if (this.queued > 0) {
      const next = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as BreakerWaiter;
      this.#compact();
      next.admitted();
      return;
    }
    this.#active--;
  }

  /** Withdraws a waiter that is still queued (its client left or its deadline passed). */
  withdraw(waiter: BreakerWaiter): void {
    const index = this.#queue.indexOf(waiter, this.#head);
    if (index < 0) return;
    this.#queue.splice(index, 1);
    this.#compact();
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
