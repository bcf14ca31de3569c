// The chart's Grafana dashboard reads only what the components export: every metric its queries
// select, and every label they match on, is in what real gateway, activator and queue-proxy
// processes serve after a request went through them, or in the registries the autoscaler and the
// controller build their metrics into (those two need an API server to start).
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoscalerMetrics } from '../../../autoscaler/kpa/metrics.ts';
import { putRevision, startActivator, type ActivatorProc } from '../../../harness/activator.ts';
import { get, ingress, split, startGateway, type GatewayProc } from '../../../harness/gateway.ts';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';
import { Controller } from '../../../lib/controller.ts';
import { createRegistry } from '../../../lib/metrics.ts';

const DASHBOARD = new URL('../../../charts/pilotlight/dashboards/pilotlight.json', import.meta.url);
const HOST = 'hello.default.example.com';

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; definition?: string }[] };
}

/** Every PromQL expression of the dashboard: its panels' and its variables'. */
function expressions(dashboard: Dashboard): string[] {
  return [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
    ...dashboard.templating.list.flatMap((variable) => (variable.definition ? [variable.definition] : [])),
  ];
}

/** `name{label="v",…}` selectors, with the names of the labels they match on. */
function selectors(expr: string): { metric: string; labels: Record<string, string> }[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1]!,
    labels: Object.fromEntries(
      [...m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"([^"]*)"/g)].map((l) => [l[1]!, l[2]!]),
    ),
  }));
}

interface Exported {
  /** Label names seen on the series; none when nothing was observed yet. */
  labels: Set<string>;
  /** The components that export it. */
  components: Set<string>;
}

/**
 * Series names (histograms as their _bucket, _count and _sum) in each component's Prometheus
 * text, with the label names their samples carry.
 */
function exported(texts: Record<string, string>): Map<string, Exported> {
  const series = new Map<string, Exported>();
  const entry = (name: string) => {
    let found = series.get(name);
    if (!found) series.set(name, (found = { labels: new Set(), components: new Set() }));
    return found;
  };
  for (const [component, text] of Object.entries(texts)) {
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) {
        const names = type[2] === 'histogram' ? ['_bucket', '_count', '_sum'].map((s) => type[1] + s) : [type[1]!];
        for (const name of names) entry(name).components.add(component);
        continue;
      }
      const sample = /^([a-zA-Z_:][\w:]*)\{([^}]*)\}/.exec(line);
      if (!sample) continue;
      const found = entry(sample[1]!);
      for (const [, label] of sample[2]!.matchAll(/(\w+)="(?:[^"\\]|\\.)*"/g)) found.labels.add(label!);
    }
  }
  return series;
}

describe("the chart's Grafana dashboard", () => {
  let app: SampleApp;
  let queueProxy: QueueProxyProc;
  let gateway: GatewayProc;
  let activator: ActivatorProc;
  let pool: Pool;

  beforeAll(async () => {
    app = await startSampleApp();
    queueProxy = await startQueueProxy(app.port);
    gateway = await startGateway({
      ingresses: [ingress('hello', [{ hosts: [HOST], paths: [{ splits: [split('app-00001', 100)] }] }])],
      backends: [{ name: 'app-00001', addresses: [`127.0.0.1:${queueProxy.servingPort}`] }],
    });
    activator = await startActivator();
    await putRevision(activator, 'app-00001', {
      containerConcurrency: 0,
      pods: [`127.0.0.1:${queueProxy.servingPort}`],
    });
    pool = new Pool(`http://127.0.0.1:${gateway.externalPort}`);
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
    await Promise.all([gateway?.stop(), activator?.stop()]);
    await queueProxy?.stop();
    await app?.stop();
  });

  it('selects only metrics and labels the components export', async () => {
    expect((await get(pool, HOST)).status).toBe(200);
    const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    const autoscaler = createRegistry('autoscaler');
    const revision = {
      k8s_namespace_name: 'default',
      kn_service_name: 'app',
      kn_configuration_name: 'app',
      kn_revision_name: 'app-00001',
    };
    const decisions = new AutoscalerMetrics(autoscaler);
    decisions.recordDecision(revision, {
      metric: 'concurrency',
      desiredPods: 1,
      excessBurstCapacity: 0,
      panicking: false,
      stable: 1,
      panic: 1,
      target: 70,
    });
    decisions.recordPods(revision, 1, { ready: 1, notReady: 0, pending: 0, terminating: 0 });
    const controller = createRegistry('controller');
    for (const [name, registry] of [
      ['podautoscaler', autoscaler],
      ['route', controller],
    ] as const) {
      new Controller({ name, registry, reconcile: async () => {} }).queue.add('default/app');
    }

    const series = exported({
      gateway: await scrape(gateway.adminPort),
      activator: await scrape(activator.metricsPort),
      'queue-proxy': await scrape(queueProxy.userMetricsPort),
      autoscaler: await autoscaler.metrics(),
      controller: await controller.metrics(),
    });
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const exprs = expressions(dashboard);
    expect(exprs.length).toBeGreaterThan(15);
    const missing: string[] = [];
    let labelsChecked = 0;
    for (const expr of exprs) {
      // A metric written without braces would escape this check; the dashboard always writes them.
      expect(expr, 'a metric selected without {…}').not.toMatch(/[a-z0-9_]\[/);
      for (const { metric, labels } of selectors(expr)) {
        const found = series.get(metric);
        if (!found) {
          missing.push(metric);
          continue;
        }
        // component="x|y" (a regex matcher) names several; each must export the metric.
        for (const component of labels.component?.split('|') ?? [])
          expect([...found.components], `${metric} from ${component}`).toContain(component);
        if (found.labels.size === 0) continue;
        labelsChecked++;
        for (const label of Object.keys(labels))
          expect(found.labels, `${metric} has no label ${label}`).toContain(label);
      }
    }
    expect(missing, 'metrics the dashboard reads that no component exports').toEqual([]);
    // The request, autoscaling and activator panels at least had samples to check labels against.
    expect(labelsChecked).toBeGreaterThan(12);
  });
});
