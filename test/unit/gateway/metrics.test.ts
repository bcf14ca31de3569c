import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../gateway/metrics.ts';

const LABELS = 'namespace_name="default",route_name="hello",revision_name="hello-00001"';

function setUp(): { metrics: GatewayMetrics; text: () => Promise<string> } {
  const registry = new Registry();
  registry.setDefaultLabels({ component: 'gateway' });
  return { metrics: new GatewayMetrics(registry), text: () => registry.metrics() };
}

const line = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

describe('GatewayMetrics', () => {
  it('publishes counts and a cumulative latency histogram per route, revision and status', async () => {
    const { metrics, text } = setUp();
    const decision = {};
    for (const latencyMs of [3, 7, 7, 120, 250_000])
      metrics.observe(decision, 'default', 'hello', 'hello-00001', 200, latencyMs);
    metrics.observe(decision, 'default', 'hello', 'hello-00001', 502, 1);
    const out = await text();
    const ok = `${LABELS},response_code="200",response_code_class="2xx"`;
    expect(out).toContain('# TYPE gateway_request_count counter');
    expect(out).toContain('# TYPE gateway_request_latencies histogram');
    expect(line(out, `gateway_request_count{${ok},component="gateway"}`)).toMatch(/ 5$/);
    expect(
      line(out, `gateway_request_count{${LABELS},response_code="502",response_code_class="5xx",component="gateway"}`),
    ).toMatch(/ 1$/);
    expect(line(out, `gateway_request_latencies_bucket{${ok},le="5",`)).toMatch(/ 1$/);
    expect(line(out, `gateway_request_latencies_bucket{${ok},le="10",`)).toMatch(/ 3$/);
    expect(line(out, `gateway_request_latencies_bucket{${ok},le="150",`)).toMatch(/ 4$/);
    expect(line(out, `gateway_request_latencies_bucket{${ok},le="100000",`)).toMatch(/ 4$/);
    expect(line(out, `gateway_request_latencies_bucket{${ok},le="+Inf",`)).toMatch(/ 5$/);
    expect(line(out, `gateway_request_latencies_sum{${ok},`)).toMatch(/ 250137$/);
    expect(line(out, `gateway_request_latencies_count{${ok},`)).toMatch(/ 5$/);
  });

  it('counts into one series whether a request is recorded by owner or by name', async () => {
    const { metrics, text } = setUp();
    metrics.observe({}, 'default', 'hello', 'hello-00001', 200, 1);
    // A rebuilt routing table brings new decision objects for the same revision.
    metrics.observe({}, 'default', 'hello', 'hello-00001', 200, 1);
    metrics.observe(undefined, 'default', 'hello', 'hello-00001', 200, 1);
    const out = await text();
    expect(out.split('\n').filter((l) => l.startsWith('gateway_request_count{'))).toEqual([
      `gateway_request_count{${LABELS},response_code="200",response_code_class="2xx",component="gateway"} 3`,
    ]);
  });
});
