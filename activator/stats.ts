// What the activator tells the autoscaler (S:pkg/activator/handler/concurrency_reporter.go):
// the first request for a revision it is not tracking is reported at once, so a revision at
// zero starts scaling without waiting for the next tick; then every second, per revision, the
// time-weighted concurrency and request count, queued requests included.
import { Pool } from 'undici';
import type { Logger } from '../lib/log.ts';
import { RequestStats } from '../lib/stats/requestStats.ts';
import type { ActivatorMetrics } from './metrics.ts';

/**
 * One stat, as JSON. `podName` is the activator's own name (the autoscaler tells activators
 * from pods by it); `averageConcurrency` and `requestCount` cover the period since the previous
 * stat (one second); `firstRequest` marks the immediate report of a request for a revision the
 * activator was not tracking, i.e. a revision at zero that must scale up now.
 */
export interface ActivatorStat {
  namespace: string;
  revision: string;
  podName: string;
  averageConcurrency: number;
  requestCount: number;
  firstRequest: boolean;
  /** Milliseconds since the epoch, when the stat was taken. */
  timestamp: number;
}

/**
 * One entry of the autoscaler's stat endpoint (autoscaler/collector/statServer.ts), which reads
 * the revision and the stat; `firstRequest` and `timestamp` ride along for those who want them.
 */
export interface WireStat {
  namespace: string;
  revision: string;
  stat: {
    podName: string;
    averageConcurrentRequests: number;
    averageProxiedConcurrentRequests: number;
    requestCount: number;
    proxiedRequestCount: number;
  };
  firstRequest: boolean;
  timestamp: number;
}

export function toWire(stat: ActivatorStat): WireStat {
  return {
    namespace: stat.namespace,
    revision: stat.revision,
    // Requests the activator holds are its own, not proxied on its behalf.
    stat: {
      podName: stat.podName,
      averageConcurrentRequests: stat.averageConcurrency,
      averageProxiedConcurrentRequests: 0,
      requestCount: stat.requestCount,
      proxiedRequestCount: 0,
    },
    firstRequest: stat.firstRequest,
    timestamp: stat.timestamp,
  };
}

export function fromWire(wire: WireStat): ActivatorStat {
  return {
    namespace: wire.namespace,
    revision: wire.revision,
    podName: wire.stat.podName,
    averageConcurrency: wire.stat.averageConcurrentRequests,
    requestCount: wire.stat.requestCount,
    firstRequest: wire.firstRequest,
    timestamp: wire.timestamp,
  };
}

export interface StatsReporter {
  /** Sends without waiting; failures are the reporter's to log and count. */
  report(stats: readonly ActivatorStat[]): void;
  close(): Promise<void>;
}

/**
 * POSTs each batch as a JSON array of WireStat to the autoscaler's stat endpoint
 * (`http://autoscaler.<system namespace>:8080/stats`), content-type application/json.
 * Batches are independent; one that fails is dropped, as the next second brings a fresh one.
 */
export class HttpStatsReporter implements StatsReporter {
  #url: URL;
  #pool: Pool;
  #log: Logger;
  #metrics: ActivatorMetrics;

  constructor(url: string, log: Logger, metrics: ActivatorMetrics) {
    this.#url = new URL(url);
    this.#pool = new Pool(this.#url.origin, { connections: 2 });
    this.#log = log;
    this.#metrics = metrics;
  }

  report(stats: readonly ActivatorStat[]): void {
    if (stats.length === 0) return;
    // A first request means a revision is activating: worth a line, and a phase of a cold start.
    for (const stat of stats)
      if (stat.firstRequest)
        this.#log.info('reporting the first request for a revision', {
          revision: `${stat.namespace}/${stat.revision}`,
        });
    this.#pool
      .request({
        path: this.#url.pathname + this.#url.search,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(stats.map(toWire)),
        signal: AbortSignal.timeout(2000),
      })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode >= 300) throw new Error(`stats endpoint answered ${res.statusCode}`);
        this.#metrics.statsEndpointReachable(true);
      })
      .catch((error: Error) => {
        this.#metrics.statsEndpointReachable(false);
        this.#log.warn('sending stats failed', { url: this.#url.href, error });
      });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

interface RevisionEntry {
  namespace: string;
  revision: string;
  stats: RequestStats;
  inFlight: number;
  /** 1 until the first periodic stat, which then leaves out the request reported at once. */
  reportedFirst: number;
}

export class ConcurrencyReporter {
  #podName: string;
  #reporter: StatsReporter;
  #metrics: ActivatorMetrics;
  #entries = new Map<string, RevisionEntry>();

  constructor(podName: string, reporter: StatsReporter, metrics: ActivatorMetrics) {
    this.#podName = podName;
    this.#reporter = reporter;
    this.#metrics = metrics;
  }

  requestIn(key: string, namespace: string, revision: string, now: number): void {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { namespace, revision, stats: new RequestStats(now), inFlight: 0, reportedFirst: 1 };
      this.#entries.set(key, entry);
      this.#reporter.report([
        {
          namespace,
          revision,
          podName: this.#podName,
          averageConcurrency: 1,
          requestCount: 1,
          firstRequest: true,
          timestamp: now,
        },
      ]);
    }
    entry.inFlight++;
    entry.stats.requestIn(now, false);
  }

  requestOut(key: string, now: number): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    entry.inFlight--;
    entry.stats.requestOut(now, false);
  }

  /** The periodic report; revisions idle for a whole period are forgotten afterwards. */
  tick(now: number): void {
    const batch: ActivatorStat[] = [];
    for (const [key, entry] of this.#entries) {
      const report = entry.stats.report(now);
      const concurrency = Math.max(report.averageConcurrency - entry.reportedFirst, 0);
      const requestCount = Math.max(report.requestCount - entry.reportedFirst, 0);
      entry.reportedFirst = 0;
      this.#metrics.requestConcurrency(entry.namespace, entry.revision, report.averageConcurrency);
      if (report.averageConcurrency === 0 && entry.inFlight === 0) {
        this.#entries.delete(key);
        this.#metrics.forgetRevision(entry.namespace, entry.revision);
        continue;
      }
      batch.push({
        namespace: entry.namespace,
        revision: entry.revision,
        podName: this.#podName,
        averageConcurrency: concurrency,
        requestCount,
        firstRequest: false,
        timestamp: now,
      });
    }
    this.#reporter.report(batch);
  }
}
