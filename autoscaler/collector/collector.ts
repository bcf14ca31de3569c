// Scrapes every scraped revision once a second and hands the estimate to whoever keeps the
// revision's metrics (upstream pkg/autoscaler/metrics/collector.go, scrapeTickInterval).
import { Histogram, type Registry } from 'prom-client';
import { Agent, request } from 'undici';
import type { Clock, Timer } from '../../lib/clock.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { sharedMetric } from '../../lib/metrics.ts';
import type { Stat } from '../metrics/revisionMetrics.ts';
import type { PodSource } from './podSource.ts';
import { parseQueueProxyStat, type PodStat } from './queueProxyStat.ts';
import type { Rand, ScrapePod } from './sampling.ts';
import { scrapeRevision, type FetchPodStat } from './scraper.ts';

export const SCRAPE_INTERVAL_MS = 1000;
/** Upstream's scrape client timeout. */
export const SCRAPE_TIMEOUT_MS = 3000;

export interface ScrapeTarget {
  /** `namespace/revision`. */
  key: string;
  namespace: string;
  revision: string;
  stableWindowMs: number;
}

/** The revisions to scrape, and where their estimates go. */
export interface ScrapeSink {
  scrapeTargets(): ScrapeTarget[];
  recordScraped(key: string, atMs: number, stat: Stat): void;
}

export interface MetricCollectorOptions {
  sink: ScrapeSink;
  pods: PodSource;
  clock: Clock;
  registry: Registry;
  rand?: Rand;
  fetchStat?: FetchPodStat;
  log?: Logger;
}

// Keep-alive to every pod, as upstream does with up to 1000 idle connections.
const scrapeAgent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });

export const fetchQueueProxyStat: FetchPodStat = async (pod: ScrapePod): Promise<PodStat> => {
  const host = pod.ip.includes(':') ? `[${pod.ip}]` : pod.ip;
  const response = await request(`http://${host}:${pod.port}/metrics`, {
    dispatcher: scrapeAgent,
    headersTimeout: SCRAPE_TIMEOUT_MS,
    bodyTimeout: SCRAPE_TIMEOUT_MS,
    signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${pod.name}: metrics answered ${response.statusCode}`);
  return parseQueueProxyStat(text, pod.name);
};

export class MetricCollector {
  readonly #options: MetricCollectorOptions;
  readonly #log: Logger;
  readonly #duration: Histogram<'k8s_namespace_name' | 'kn_revision_name'>;
  #timer: Timer | undefined;
  #running = false;

  constructor(options: MetricCollectorOptions) {
    this.#options = options;
    this.#log = options.log ?? createLogger('collector');
    this.#duration = sharedMetric(
      options.registry,
      'kn_autoscaler_scrape_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'kn_autoscaler_scrape_duration_seconds',
          help: 'The duration of scraping the revision',
          labelNames: ['k8s_namespace_name', 'kn_revision_name'] as const,
          buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
          registers,
        }),
    );
  }

  /** Scrapes now and then every second; a slow scrape delays the next rather than overlapping it. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = () => {
      const started = this.#options.clock.now();
      void this.scrapeOnce().finally(() => {
        if (!this.#running) return;
        const elapsed = this.#options.clock.now() - started;
        this.#timer = this.#options.clock.setTimeout(loop, Math.max(0, SCRAPE_INTERVAL_MS - elapsed));
      });
    };
    loop();
  }

  stop(): void {
    this.#running = false;
    this.#timer?.cancel();
  }

  /** One scrape of every target, in parallel; never rejects. */
  async scrapeOnce(): Promise<void> {
    await Promise.all(this.#options.sink.scrapeTargets().map((target) => this.#scrape(target)));
  }

  async #scrape(target: ScrapeTarget): Promise<void> {
    const { clock, pods, sink } = this.#options;
    const log = this.#log.with({ revision: target.key });
    const started = clock.now();
    try {
      const result = await scrapeRevision(pods.readyPods(target.namespace, target.revision), {
        nowMs: started,
        stableWindowMs: target.stableWindowMs,
        fetchStat: this.#options.fetchStat ?? fetchQueueProxyStat,
        rand: this.#options.rand ?? Math.random,
        onPodError: (pod, error) => log.info('failed scraping pod', { pod: pod.name, error }),
      });
      if (result.kind === 'no-pods') return;
      this.#duration.observe(
        { k8s_namespace_name: target.namespace, kn_revision_name: target.revision },
        (clock.now() - started) / 1000,
      );
      if (result.kind === 'failed') {
        log.warn('no pod of the revision answered the scrape', { tried: result.tried });
        return;
      }
      sink.recordScraped(target.key, clock.now(), result.stat);
    } catch (error) {
      log.error('scrape failed', { error });
    }
  }
}
