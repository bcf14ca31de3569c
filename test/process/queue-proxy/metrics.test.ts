// What the autoscaler would scrape from queue-proxy's metrics port under a known load: the
// reported concurrency and request rate match the load, and the activator's share is reported
// separately. Load: closed-loop workers, each always having one request in flight.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueueProxy, startSampleApp, type QueueProxyProc, type SampleApp } from '../../../harness/processes.ts';

const LABELS =
  'destination_namespace="default",destination_configuration="app",destination_revision="app-00001",destination_pod="app-00001-deployment-abc"';

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(LABELS));
  if (line === undefined) throw new Error(`${name} with Knative's labels is missing from:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

function within10Percent(actual: number, expected: number): void {
  expect(Math.abs(actual - expected) / expected, `${actual} vs ${expected}`).toBeLessThan(0.1);
}

describe('autoscaler metrics', () => {
  let app: SampleApp;
  let qp: QueueProxyProc;
  const client = new Agent({ connections: 32 });

  beforeAll(async () => {
    app = await startSampleApp();
    qp = await startQueueProxy(app.port);
  });
  afterAll(async () => {
    await client.close();
    await qp?.stop();
    await app?.stop();
  });

  // The client counts a request from its send and the queue-proxy from its arrival: on a loaded
  // machine (a CI run of every suite) the gap between them costs the queue-proxy's figure a few
  // percent in some runs. A retry keeps the 10% bound; a real miscount fails every attempt.
  it('reports average concurrency and requests per second matching the load, proxied requests apart', {
    retry: 2,
  }, async () => {
    // Many staggered workers, so a one-second window holds hundreds of evenly spread
    // completions rather than a few bursts.
    const workers = 20;
    const activatorWorkers = 5;
    const sleepMs = 50;
    const loadMs = 3500;
    const completions: number[] = [];
    // [sent, answered] of each request, to measure the concurrency the load really had: on a
    // busy machine the workers spend time between requests, so it is below `workers`.
    const spans: Array<{ from: number; to: number; proxied: boolean }> = [];
    const startedAt = performance.now();
    const worker = async (index: number) => {
      await new Promise((resolve) => setTimeout(resolve, (index * sleepMs) / workers));
      const headers = index < activatorWorkers ? { 'k-proxy-request': 'activator' } : {};
      // Bounded by count as well as time.
      for (let i = 0; i < 100 && performance.now() - startedAt < loadMs; i++) {
        const from = performance.now() - startedAt;
        const res = await request(`http://127.0.0.1:${qp.servingPort}/work?sleep=${sleepMs}`, {
          headers,
          dispatcher: client,
        });
        await res.body.dump();
        const to = performance.now() - startedAt;
        completions.push(to);
        spans.push({ from, to, proxied: index < activatorWorkers });
      }
    };
    const load = Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));

    // Two full reporting periods (1s) into the load, the last report covers a steady second.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const text = await (await request(`http://127.0.0.1:${qp.autoscalerMetricsPort}/metrics`)).body.text();
    await load;
    // The generated rate once warm: completions per second between 1s and 3s into the load,
    // which contains the reporting period the scrape returned.
    const throughput = completions.filter((t) => t >= 1000 && t < 3000).length / 2;
    // Time-weighted concurrency the client generated over the same two seconds.
    const concurrency = (proxiedOnly: boolean) =>
      spans
        .filter((span) => !proxiedOnly || span.proxied)
        .reduce((sum, span) => sum + Math.max(0, Math.min(span.to, 3000) - Math.max(span.from, 1000)), 0) / 2000;

    within10Percent(gauge(text, 'queue_average_concurrent_requests'), concurrency(false));
    within10Percent(gauge(text, 'queue_average_proxied_concurrent_requests'), concurrency(true));
    within10Percent(gauge(text, 'queue_requests_per_second'), throughput);
    within10Percent(gauge(text, 'queue_proxied_operations_per_second'), (throughput * activatorWorkers) / workers);
    expect(gauge(text, 'process_uptime')).toBeGreaterThan(0);
  });

  it('serves request metrics for users on the user-metrics port', async () => {
    const text = await (await request(`http://127.0.0.1:${qp.userMetricsPort}/metrics`)).body.text();
    expect(text).toMatch(
      /^kn_serving_invocation_duration_seconds_count\{[^}]*http_response_status_code="200"[^}]*\} [1-9]/m,
    );
    expect(text).toMatch(/^kn_serving_queue_depth\{[^}]*\} 0$/m);
    expect(text).toContain('process_resident_memory_bytes');
    // Labelled as Knative's queue-proxy labels them, from the environment the Revision controller writes.
    const identity =
      'k8s_namespace_name="default",kn_configuration_name="app",kn_revision_name="app-00001",' +
      'k8s_pod_name="app-00001-deployment-abc",k8s_container_name="queue-proxy"';
    expect(text).toContain(`kn_serving_queue_depth{${identity}} 0`);
    expect(text).toContain(`kn_serving_invocation_duration_seconds_count{${identity},http_response_status_code="200"}`);
  });
});
