// Time-weighted average concurrency and request rate per reporting period, also counted
// separately for requests the activator proxied (N:pkg/http/stats/request.go). Proxied requests
// are part of the totals too. Both queue-proxy and the activator keep these figures.
export interface StatsReport {
  averageConcurrency: number;
  averageProxiedConcurrency: number;
  requestCount: number;
  proxiedRequestCount: number;
}

export class RequestStats {
  #concurrency = 0;
  #proxiedConcurrency = 0;
  #requestCount = 0;
  #proxiedRequestCount = 0;
  #weighted = 0;
  #proxiedWeighted = 0;
  #windowStart: number;
  #lastChange: number;

  constructor(now: number) {
    this.#windowStart = now;
    this.#lastChange = now;
  }

  requestIn(now: number, proxied: boolean): void {
    this.#integrate(now);
    this.#concurrency++;
    this.#requestCount++;
    if (proxied) {
      this.#proxiedConcurrency++;
      this.#proxiedRequestCount++;
    }
  }

  requestOut(now: number, proxied: boolean): void {
    this.#integrate(now);
    this.#concurrency--;
    if (proxied) this.#proxiedConcurrency--;
  }

  /** Closes the window ending at `now` and starts the next one. */
  report(now: number): StatsReport {
    this.#integrate(now);
    const elapsed = now - this.#windowStart;
    const report: StatsReport = {
      averageConcurrency: elapsed > 0 ? this.#weighted / elapsed : this.#concurrency,
      averageProxiedConcurrency: elapsed > 0 ? this.#proxiedWeighted / elapsed : this.#proxiedConcurrency,
      requestCount: this.#requestCount,
      proxiedRequestCount: this.#proxiedRequestCount,
    };
    this.#weighted = 0;
    this.#proxiedWeighted = 0;
    this.#requestCount = 0;
    this.#proxiedRequestCount = 0;
    this.#windowStart = now;
    return report;
  }

  #integrate(now: number): void {
    const dt = now - this.#lastChange;
    if (dt > 0) {
      this.#weighted += this.#concurrency * dt;
      this.#proxiedWeighted += this.#proxiedConcurrency * dt;
      this.#lastChange = now;
    }
  }
}
