// Prometheus text exposition (format 0.0.4) for queue-proxy's two metrics ports, written by hand:
// queue-proxy runs in every pod, and prom-client would cost each one ≈15 MiB for a few series.
import type { Server } from 'node:http';
import { serveMetricsEndpoint } from '../lib/http/metricsEndpoint.ts';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** `{name="value",…}`, or nothing for no labels. */
export function labelSet(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** One metric family: its HELP and TYPE lines and its samples, each `[suffixed name + label set, value]`. */
export function family(
  name: string,
  type: 'gauge' | 'counter' | 'histogram',
  help: string,
  samples: ReadonlyArray<readonly [string, number]>,
): string {
  let text = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [series, value] of samples) text += `${series} ${formatValue(value)}\n`;
  return text;
}

/** The process metrics prom-client's defaults would give, the ones worth their cost. */
export function processMetrics(labels: Labels): string {
  const set = labelSet(labels);
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  return [
    family('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', [
      [`process_cpu_user_seconds_total${set}`, cpu.user / 1e6],
    ]),
    family('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', [
      [`process_cpu_system_seconds_total${set}`, cpu.system / 1e6],
    ]),
    family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [
      [`process_cpu_seconds_total${set}`, (cpu.user + cpu.system) / 1e6],
    ]),
    family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [
      [`process_start_time_seconds${set}`, startSeconds],
    ]),
    family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [
      [`process_resident_memory_bytes${set}`, memory.rss],
    ]),
    family('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', [
      [`nodejs_heap_size_total_bytes${set}`, memory.heapTotal],
    ]),
    family('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', [
      [`nodejs_heap_size_used_bytes${set}`, memory.heapUsed],
    ]),
    family('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', [
      [`nodejs_external_memory_bytes${set}`, memory.external],
    ]),
  ].join('\n');
}

/** Serves GET /metrics with the text render() returns, on host:port. */
export function serveMetrics(render: () => string, port: number, host: string): Promise<Server> {
  return serveMetricsEndpoint(
    (res) => {
      const text = render();
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
    port,
    host,
  );
}
