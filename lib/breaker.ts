// Admits at most `capacity` holders at once and keeps up to `queueDepth` more waiting, in
// arrival order; beyond that entries are refused at once (S:pkg/queue/breaker.go). queue-proxy
// uses a fixed capacity (containerConcurrency); the activator moves a revision's capacity as
// pods come and go, down to 0 while it has none, and uses depth-0 breakers as per-pod slots.
// Single-threaded, so plain counters replace Knative's atomics.

export interface BreakerWaiter {
  /** Called when a queued waiter gets its slot; it must call release() when done. */
  admitted(): void;
}

export type BreakerEntry = 'admitted' | 'queued' | 'rejected';

export class Breaker {
  readonly queueDepth: number;
  #capacity: number;
  #active = 0;
  #queue: BreakerWaiter[] = [];
  #head = 0;

  /** `capacity` may be 0 (everything waits) or Infinity (only the queue order is kept). */
  constructor(capacity: number, queueDepth: number) {
    this.#capacity = checkedCapacity(capacity);
    this.queueDepth = queueDepth;
  }

  get capacity(): number {
    return this.#capacity;
  }
  get active(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Admits now, queues, or rejects when capacity and queue are both full. */
  enter(waiter: BreakerWaiter): BreakerEntry {
    if (this.#active < this.#capacity && this.queued === 0) {
      this.#active++;
      return 'admitted';
    }
    if (this.queued >= this.queueDepth) return 'rejected';
    this.#queue.push(waiter);
    return 'queued';
  }

  /** Gives a slot back and hands it to the oldest waiter, if capacity allows. */
  release(): void {
    this.#active--;
    this.#admitWaiters();
  }

  /**
   * Changes the capacity. Raising it admits waiters at once; lowering it below the slots in
   * use takes effect as they are released.
   */
  setCapacity(capacity: number): void {
    this.#capacity = checkedCapacity(capacity);
    this.#admitWaiters();
  }

  /** Withdraws a waiter that is still queued (its client left or its deadline passed). */
  withdraw(waiter: BreakerWaiter): void {
    const index = this.#queue.indexOf(waiter, this.#head);
    if (index < 0) return;
    this.#queue.splice(index, 1);
    this.#compact();
  }

  #admitWaiters(): void {
    while (this.#active < this.#capacity && this.queued > 0) {
      const next = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as BreakerWaiter;
      this.#compact();
      this.#active++;
      next.admitted();
    }
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

function checkedCapacity(capacity: number): number {
  if (!(capacity >= 0)) throw new RangeError(`breaker capacity must be 0 or more, got ${capacity}`);
  return capacity;
}
