import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../gateway/metrics.ts';

const LABELS = 'k8s_namespace_name="default",kn_route_name="hello",kn_revision_name="hello-00001"';
const NAME = 'http_server_request_duration_seconds';

function setUp(): { metrics: GatewayMetrics; text: () => Promise<string> } {
  const registry = new Registry();
  registry.setDefaultLabels({ component: 'gateway' });
  return { metrics: new GatewayMetrics(registry), text: () => registry.metrics() };
}

const line = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

describe('GatewayMetrics', () => {
  it('publishes a cumulative duration histogram in seconds per route, revision and status', async () => {
    const { metrics, text } = setUp();
    const decision = {};
    for (const latencyMs of [3, 7, 7, 120, 250_000])
      metrics.observe(decision, 'default', 'hello', 'hello-00001', 200, latencyMs);
    metrics.observe(decision, 'default', 'hello', 'hello-00001', 502, 1);
    const out = await text();
    const ok = `${LABELS},http_response_status_code="200"`;
    expect(out).toContain(`# TYPE ${NAME} histogram`);
    expect(line(out, `${NAME}_count{${ok},component="gateway"}`)).toMatch(/ 5$/);
    expect(line(out, `${NAME}_count{${LABELS},http_response_status_code="502",component="gateway"}`)).toMatch(/ 1$/);
    expect(line(out, `${NAME}_bucket{${ok},le="0.005",`)).toMatch(/ 1$/);
    expect(line(out, `${NAME}_bucket{${ok},le="0.01",`)).toMatch(/ 3$/);
    expect(line(out, `${NAME}_bucket{${ok},le="0.15",`)).toMatch(/ 4$/);
    expect(line(out, `${NAME}_bucket{${ok},le="100",`)).toMatch(/ 4$/);
    expect(line(out, `${NAME}_bucket{${ok},le="+Inf",`)).toMatch(/ 5$/);
    expect(line(out, `${NAME}_sum{${ok},`)).toMatch(/ 250.137$/);
  });

  it('counts into one series whether a request is recorded by owner or by name', async () => {
    const { metrics, text } = setUp();
    metrics.observe({}, 'default', 'hello', 'hello-00001', 200, 1);
    // A rebuilt routing table brings new decision objects for the same revision.
    metrics.observe({}, 'default', 'hello', 'hello-00001', 200, 1);
    metrics.observe(undefined, 'default', 'hello', 'hello-00001', 200, 1);
    const out = await text();
    expect(out.split('\n').filter((l) => l.startsWith(`${NAME}_count{`))).toEqual([
      `${NAME}_count{${LABELS},http_response_status_code="200",component="gateway"} 3`,
    ]);
  });
});
