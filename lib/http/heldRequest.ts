// One proxied request that may wait in a breaker before it is sent on, as the activator and
// queue-proxy both hold them: its phase, its timeouts counted from arrival
// (S:pkg/http/handler/timeout.go), and how it ends when its client leaves while it waits (499) or
// a timeout expires (504). The subclass proxies and does its own bookkeeping at the end. The
// request is its own breaker waiter and exchange listener, so holding one costs one object.
import type { Breaker, BreakerWaiter } from '../breaker.ts';
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import {
  CLIENT_CLOSED_STATUS,
  endedStatus,
  ExchangeAbortedError,
  upstreamFailureFields,
  type DownstreamRequest,
  type DownstreamResponse,
  type ExchangeListener,
  type ExchangeOutcome,
  type ProxyExchange,
} from './proxy.ts';
import { endTimedOut, nextDeadline, TIMEOUT_BODY, type RequestTimeouts } from './timeouts.ts';

export const QUEUE_FULL_BODY = 'pending request queue full';

export type HeldPhase = 'queued' | 'proxying' | 'done';

export interface HeldRequestDeps {
  readonly clock: Clock;
  readonly log: Logger;
}

/** Read at every check rather than copied, so timeouts changed meanwhile (a revision's) apply to held requests. */
export interface TimeoutSource {
  readonly timeouts: RequestTimeouts;
}

export abstract class HeldRequest<Deps extends HeldRequestDeps> implements BreakerWaiter, ExchangeListener {
  protected readonly deps: Deps;
  protected readonly req: DownstreamRequest;
  protected readonly res: DownstreamResponse;
  /** Undefined when nothing limits concurrency: the request is proxied at once. */
  protected readonly breaker: Breaker | undefined;
  protected readonly arrivedAt: number;
  protected phase: HeldPhase = 'queued';
  /** Whether one of the breaker's slots is this request's to release. */
  protected holdsSlot = false;
  protected exchange: ProxyExchange | undefined;
  readonly #timeoutSource: TimeoutSource;
  #timer: Timer | undefined;
  #watchingClose = false;

  constructor(
    deps: Deps,
    req: DownstreamRequest,
    res: DownstreamResponse,
    breaker: Breaker | undefined,
    timeoutSource: TimeoutSource,
  ) {
    this.deps = deps;
    this.req = req;
    this.res = res;
    this.breaker = breaker;
    this.#timeoutSource = timeoutSource;
    this.arrivedAt = deps.clock.now();
  }

  /** Sends the request on; sets the phase to proxying once an exchange is under way. */
  protected abstract proxy(): void;
  /** Gives back what the request holds and records how it ended; runs once, before the phase becomes done. */
  protected abstract settle(status: number): void;
  /** What names the request in its log lines ('request timeout', 'upstream failed'). */
  protected abstract logFields(): Record<string, unknown>;

  admitted(): void {
    this.holdsSlot = true;
    this.proxy();
  }

  exchangeEnded(exchange: ProxyExchange, outcome: ExchangeOutcome, error: Error | undefined): void {
    if (this.phase === 'done') return;
    if (outcome === 'upstream-failed')
      this.deps.log.warn('upstream failed', { ...this.logFields(), ...upstreamFailureFields(exchange, error) });
    this.finish(endedStatus(this.res, outcome));
  }

  /** Starts the timeouts' clock at arrival and enters the breaker. */
  protected hold(): void {
    const arrivedAt = this.arrivedAt;
    this.#timer = this.deps.clock.setTimeout(this.#onTimer, this.#nextDeadline(arrivedAt) - arrivedAt);
    this.enter();
  }

  /** Proxies now, waits for a slot, or answers 503 when the breaker's queue is full. */
  protected enter(): void {
    const breaker = this.breaker;
    if (breaker === undefined) {
      this.proxy();
      return;
    }
    switch (breaker.enter(this)) {
      case 'admitted':
        this.admitted();
        return;
      case 'queued':
        if (!this.#watchingClose) {
          this.#watchingClose = true;
          this.res.once('close', this.#onCloseWhileQueued);
        }
        return;
      case 'rejected':
        this.res.writeHead(503, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': QUEUE_FULL_BODY.length,
        });
        this.res.end(QUEUE_FULL_BODY);
        this.finish(503);
    }
  }

  protected finish(status: number): void {
    this.#timer?.cancel();
    this.settle(status);
    this.phase = 'done';
  }

  #onCloseWhileQueued = (): void => {
    if (this.phase !== 'queued') return;
    this.breaker?.withdraw(this);
    this.finish(CLIENT_CLOSED_STATUS);
  };

  #nextDeadline(now: number): number {
    return nextDeadline(this.#timeoutSource.timeouts, this.arrivedAt, this.exchange?.lastWriteAt ?? 0, now);
  }

  #onTimer = (): void => {
    if (this.phase === 'done') return;
    const clock = this.deps.clock;
    const now = clock.now();
    const deadline = this.#nextDeadline(now);
    if (deadline > now) {
      // Infinity: the response started and no idle timeout applies, so nothing is left to check.
      this.#timer = deadline === Infinity ? undefined : clock.setTimeout(this.#onTimer, deadline - now);
      return;
    }
    this.#timer = undefined;
    this.deps.log.warn('request timeout', { ...this.logFields(), afterMs: now - this.arrivedAt });
    if (this.phase === 'queued') this.breaker?.withdraw(this);
    // Finished before aborting, so the exchange's own end report (and, in the activator, its
    // offer to retry) finds the request done and is ignored; settle still sees the phase it
    // ended in.
    this.finish(504);
    this.exchange?.abort(new ExchangeAbortedError(TIMEOUT_BODY));
    endTimedOut(this.res);
  };
}
