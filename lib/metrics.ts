// Prometheus metrics: one registry per process, served over HTTP in the text format.
import type { Server } from 'node:http';
import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { serveMetricsEndpoint } from './http/metricsEndpoint.ts';
import { createLogger } from './log.ts';

const log = createLogger('metrics');

/**
 * `eventLoopSampleMs` sets how often process metrics sample event-loop delay; prom-client's 10ms
 * default wakes the process 100 times a second, which costs an idle sidecar about 1% of a core.
 */
export function createRegistry(component: string, withProcessMetrics = true, eventLoopSampleMs?: number): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (withProcessMetrics) {
    collectDefaultMetrics({
      register: registry,
      ...(eventLoopSampleMs === undefined ? {} : { eventLoopMonitoringPrecision: eventLoopSampleMs }),
    });
  }
  return registry;
}

/**
 * The metric called name in registry, created on first use: several queues or controllers in one
 * process share each metric and tell themselves apart by label.
 */
export function sharedMetric<T extends Metric>(
  registry: Registry,
  name: string,
  create: (registers: Registry[]) => T,
): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create([registry]);
}

/** Serves GET /metrics from the registry on host:port. */
export function serveMetrics(registry: Registry, port: number, host = '0.0.0.0'): Promise<Server> {
  return serveMetricsEndpoint(
    (res) => {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (error: Error) => {
          log.error('collecting metrics failed', { error });
          res.writeHead(500);
          res.end('collecting metrics failed');
        },
      );
    },
    port,
    host,
  );
}
