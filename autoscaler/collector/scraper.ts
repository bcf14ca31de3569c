// One scrape of a revision: ask a sample of its ready pods for their latest report and scale
// the sample up to an estimate for the whole revision (upstream stats_scraper.go scrapePods).
import type { Stat } from '../metrics/revisionMetrics.ts';
import { planScrape, type Rand, type ScrapePod } from './sampling.ts';
import type { PodStat } from './queueProxyStat.ts';

/** What the scraper reports as its pod name, so stats from it and from activators stay apart. */
export const SCRAPER_POD_NAME = 'service-scraper';

export type FetchPodStat = (pod: ScrapePod) => Promise<PodStat>;

export interface ScrapeOptions {
  nowMs: number;
  stableWindowMs: number;
  fetchStat: FetchPodStat;
  rand: Rand;
  onPodError?: (pod: ScrapePod, error: unknown) => void;
}

export type ScrapeResult =
  | { kind: 'no-pods' }
  | { kind: 'failed'; tried: number }
  | { kind: 'ok'; stat: Stat; sampled: number; population: number };

/**
 * sampleSize scrapers run in parallel, each taking the next untried pod until one answers, so a
 * failing pod is replaced by another. When the pods run out first the estimate rests on the
 * pods that did answer (upstream gives up on the whole second instead, which the stable window
 * then reads as a second without load).
 */
export async function scrapeRevision(pods: readonly ScrapePod[], options: ScrapeOptions): Promise<ScrapeResult> {
  if (pods.length === 0) return { kind: 'no-pods' };
  const { sampleSize, order } = planScrape(pods, options.nowMs, options.stableWindowMs, options.rand);
  let next = 0;
  const results: PodStat[] = [];
  const worker = async () => {
    while (next < order.length) {
      const pod = order[next++]!;
      try {
        results.push(await options.fetchStat(pod));
        return;
      } catch (error) {
        options.onPodError?.(pod, error);
      }
    }
  };
  await Promise.all(Array.from({ length: sampleSize }, worker));
  if (results.length === 0) return { kind: 'failed', tried: next };
  return {
    kind: 'ok',
    stat: estimateRevisionTotal(results, pods.length),
    sampled: results.length,
    population: pods.length,
  };
}

/** Pods of one revision behave alike, so the sample's mean stands for every pod. */
export function estimateRevisionTotal(sample: readonly Stat[], population: number): Stat {
  const sum = (field: keyof Omit<Stat, 'podName'>) =>
    (sample.reduce((total, stat) => total + stat[field], 0) / sample.length) * population;
  return {
    podName: SCRAPER_POD_NAME,
    averageConcurrentRequests: sum('averageConcurrentRequests'),
    averageProxiedConcurrentRequests: sum('averageProxiedConcurrentRequests'),
    requestCount: sum('requestCount'),
    proxiedRequestCount: sum('proxiedRequestCount'),
  };
}
