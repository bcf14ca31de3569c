// Readiness of the user container. At start it is probed every few milliseconds until the
// first success, so a health check that arrives early blocks until the app answers and the pod
// turns ready moments after the app listens (Knative polls every 50ms for the same reason).
// After that, each health check runs one shared probe attempt.
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { probeOnce, type ReadinessProbe } from './probe.ts';

/** Knative's limits for aggressive probing (S:pkg/queue/readiness/probe.go). */
const AGGRESSIVE_ATTEMPT_TIMEOUT_MS = 100;
const STARTUP_POLL_LIMIT_MS = 10_000;

export class Readiness {
  #probes: readonly ReadinessProbe[];
  #successesNeeded: number;
  #intervalMs: number;
  #clock: Clock;
  #log: Logger;
  #ready = false;
  #stopped = false;
  #waiters: Array<(ready: boolean) => void> = [];
  #inFlight: Promise<boolean> | undefined;

  #onFirstReady: () => void;

  constructor(
    probes: readonly ReadinessProbe[],
    intervalMs: number,
    clock: Clock,
    log: Logger,
    onFirstReady: () => void = () => {},
  ) {
    this.#onFirstReady = onFirstReady;
    this.#probes = probes;
    this.#successesNeeded = Math.max(...probes.map((p) => p.successThreshold));
    this.#intervalMs = intervalMs;
    this.#clock = clock;
    this.#log = log;
  }

  /** Probes until every probe has passed its success threshold in a row. */
  start(): void {
    const startedAt = this.#clock.now();
    let successes = 0;
    const attempt = async () => {
      if (this.#stopped) return;
      const ok = await this.#probeAll(AGGRESSIVE_ATTEMPT_TIMEOUT_MS);
      successes = ok ? successes + 1 : 0;
      if (successes >= this.#successesNeeded) {
        this.#ready = true;
        this.#log.info('user container ready', { afterMs: this.#clock.now() - startedAt });
        for (const wake of this.#waiters.splice(0)) wake(true);
        this.#onFirstReady();
        return;
      }
      this.#clock.setTimeout(() => void attempt(), this.#intervalMs);
    };
    void attempt();
  }

  stop(): void {
    this.#stopped = true;
    for (const wake of this.#waiters.splice(0)) wake(false);
  }

  /** Whether the user container is ready now; before the first success, waits for it (bounded). */
  check(): Promise<boolean> {
    if (!this.#ready) {
      return new Promise((resolve) => {
        const timer = this.#clock.setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(wake), 1);
          resolve(false);
        }, STARTUP_POLL_LIMIT_MS);
        const wake = (ready: boolean) => {
          timer.cancel();
          resolve(ready);
        };
        this.#waiters.push(wake);
      });
    }
    // Concurrent health checks share one attempt, as Knative's probe barrier does.
    this.#inFlight ??= this.#probeAll(undefined).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #probeAll(timeoutMs: number | undefined): Promise<boolean> {
    const results = await Promise.all(
      this.#probes.map((p) =>
        probeOnce(p, timeoutMs ?? (p.periodSeconds === 0 ? AGGRESSIVE_ATTEMPT_TIMEOUT_MS * 10 : p.timeoutMs)),
      ),
    );
    return results.every(Boolean);
  }
}
