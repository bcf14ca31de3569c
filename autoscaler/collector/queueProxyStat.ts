// Reads one queue-proxy's report from its autoscaler metrics port. Today's queue-proxy
// (queue-proxy/stats.ts) serves Prometheus text with the gauges Knative's queue-proxy served
// before it switched to protobuf; this parses exactly those.
import type { Stat } from '../metrics/revisionMetrics.ts';

export interface PodStat extends Stat {
  /** Seconds since the queue-proxy started. */
  processUptime: number;
}

const GAUGES = {
  queue_average_concurrent_requests: 'averageConcurrentRequests',
  queue_average_proxied_concurrent_requests: 'averageProxiedConcurrentRequests',
  queue_requests_per_second: 'requestCount',
  queue_proxied_operations_per_second: 'proxiedRequestCount',
  process_uptime: 'processUptime',
} as const satisfies Record<string, keyof PodStat>;

type GaugeName = keyof typeof GAUGES;
const isGauge = (name: string): name is GaugeName => Object.hasOwn(GAUGES, name);

export class StatParseError extends Error {
  readonly code = 'STAT_PARSE';
}

/**
 * A queue-proxy reports one pod, so each gauge has a single sample; the concurrency gauge is
 * required, since without it the report says nothing the autoscaler can use.
 */
export function parseQueueProxyStat(text: string, podName: string): PodStat {
  const stat: PodStat = {
    podName,
    averageConcurrentRequests: Number.NaN,
    averageProxiedConcurrentRequests: 0,
    requestCount: 0,
    proxiedRequestCount: 0,
    processUptime: 0,
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd < 0) continue;
    const name = line.slice(0, nameEnd);
    if (!isGauge(name)) continue;
    // Label values may contain spaces; the value is the first field after the label set.
    const afterLabels = line[nameEnd] === '{' ? line.slice(line.lastIndexOf('}') + 1) : line.slice(nameEnd);
    const value = Number(afterLabels.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) throw new StatParseError(`${podName}: ${name} has no numeric value`);
    stat[GAUGES[name]] = value;
  }
  if (Number.isNaN(stat.averageConcurrentRequests)) {
    throw new StatParseError(`${podName}: no queue_average_concurrent_requests in the report`);
  }
  return stat;
}
