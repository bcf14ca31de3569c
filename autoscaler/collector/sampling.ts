// Which pods of a revision to scrape each second: a statistically sufficient sample rather than
// every pod, preferring pods old enough to have seen a whole stable window
// (upstream pkg/autoscaler/metrics/sample_size.go and stats_scraper.go scrapePods).

/** 1.96² (95 % confidence) × an assumed variance of 100 / a margin of error of 5². */
const UNBOUNDED_SAMPLE_SIZE = (1.96 * 1.96 * 100) / (5 * 5);

/** How many of `population` pods to scrape: all of up to three, then a finite-population sample. */
export function populationMeanSampleSize(population: number): number {
  if (population <= 3) return Math.max(population, 0);
  return Math.ceil((population * UNBOUNDED_SAMPLE_SIZE) / (population + UNBOUNDED_SAMPLE_SIZE - 1));
}

export interface ScrapePod {
  name: string;
  /** Address the queue-proxy's autoscaler metrics port listens on. */
  ip: string;
  port: number;
  /** When the pod started; pods younger than the stable window are scraped only as a fallback. */
  startedAtMs: number;
}

/** Returns a float in [0, 1), like Math.random. */
export type Rand = () => number;

export interface ScrapePlan {
  sampleSize: number;
  /**
   * Every pod, in the order scrapers take them: the first sampleSize are tried first, the rest
   * stand in for pods that fail to answer.
   */
  order: ScrapePod[];
}

/**
 * Old pods come first, shuffled so that a sample of them is unbiased; young pods back them up,
 * shuffled too when old pods alone cannot fill the sample.
 */
export function planScrape(pods: readonly ScrapePod[], nowMs: number, stableWindowMs: number, rand: Rand): ScrapePlan {
  const old: ScrapePod[] = [];
  const young: ScrapePod[] = [];
  for (const pod of pods) (nowMs - pod.startedAtMs >= stableWindowMs ? old : young).push(pod);
  const sampleSize = populationMeanSampleSize(pods.length);
  if (old.length < sampleSize) shuffle(young, rand);
  else shuffle(old, rand);
  return { sampleSize, order: [...old, ...young] };
}

function shuffle<T>(items: T[], rand: Rand): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
