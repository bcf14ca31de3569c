// The requests a proxy has accepted and not finished, and the last phase of its graceful shutdown
// (knative.dev/pkg's drain, after the quiet period each component keeps its own way): stop accepting,
// give what is in flight the drain timeout to finish, then close every connection left.
import { settlesWithin, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';

/** Requests accepted and not yet answered, held or queued ones included, plus open upgraded connections. */
export class InFlight {
  #open = 0;
  #idleWaiters: Array<() => void> = [];

  get open(): number {
    return this.#open;
  }

  begin(): void {
    this.#open++;
  }

  /** Called once per begin(), when the response ended or the upgraded connection closed. */
  end(): void {
    if (--this.#open === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** Resolves once nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

export interface DrainedListener {
  stopAccepting(): void;
  closeAll(): void;
}

export interface FinishOptions {
  clock: Clock;
  /** How long requests already accepted get to finish; then their connections are closed. */
  timeoutMs: number;
  log: Logger;
}

/** Returns how many requests were in flight when the listeners stopped accepting. */
export async function finishInFlight(
  inFlight: InFlight,
  listeners: readonly DrainedListener[],
  options: FinishOptions,
): Promise<number> {
  for (const listener of listeners) listener.stopAccepting();
  const open = inFlight.open;
  const drained = await settlesWithin(options.clock, inFlight.whenIdle(), options.timeoutMs);
  if (!drained)
    options.log.warn('drain timeout: closing connections with requests in progress', { open: inFlight.open });
  for (const listener of listeners) listener.closeAll();
  return open;
}
