// Graceful shutdown's first phase (knative.dev/pkg/network/handlers/drain.go): once draining,
// health checks fail so the pod leaves the endpoints, while traffic that still arrives is
// served; draining completes after a quiet period with no new request.
import type { Clock, Timer } from '../lib/clock.ts';

export class Drainer {
  #quietPeriodMs: number;
  #clock: Clock;
  #timer: Timer | undefined;
  #done: Promise<void> | undefined;
  #finish: (() => void) | undefined;

  constructor(quietPeriodMs: number, clock: Clock) {
    this.#quietPeriodMs = quietPeriodMs;
    this.#clock = clock;
  }

  get draining(): boolean {
    return this.#done !== undefined;
  }

  /** Every request that is not a probe restarts the quiet period. */
  touch(): void {
    if (this.#timer === undefined) return;
    this.#timer.cancel();
    this.#timer = this.#clock.setTimeout(this.#complete, this.#quietPeriodMs);
  }

  /** Starts draining (again calls share the same wait) and resolves when it is complete. */
  drain(): Promise<void> {
    this.#done ??= new Promise<void>((resolve) => {
      this.#finish = resolve;
      this.#timer = this.#clock.setTimeout(this.#complete, this.#quietPeriodMs);
    });
    return this.#done;
  }

  /** Leaves the draining state: a preStop hook ran without a SIGTERM following (a liveness restart). */
  reset(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#finish?.();
    this.#finish = undefined;
    this.#done = undefined;
  }

  #complete = (): void => {
    this.#timer = undefined;
    this.#finish?.();
    this.#finish = undefined;
  };
}
