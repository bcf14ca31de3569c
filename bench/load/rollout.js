// k6 script of bench/rollout.ts: a fixed arrival rate against the gateway for the whole rollout,
// each request tagged with the rollout step in force when it was sent. The benchmark moves the
// traffic at START_EPOCH_MS + i × STEP_MS, on the same clock, so counts per step need no log.
//
// Environment: URL, HOST, RATE (req/s), START_EPOCH_MS, STEP_MS, STEPS, MAX_VUS, SUMMARY_JSON (path).
import http from 'k6/http';
import { Counter } from 'k6/metrics';

const rate = Number(__ENV.RATE || 100);
const start = Number(__ENV.START_EPOCH_MS);
const stepMs = Number(__ENV.STEP_MS);
const steps = Number(__ENV.STEPS);
const headers = { Host: __ENV.HOST || 'localhost' };
const requests = new Counter('step_requests');
const failures = new Counter('step_failures');

// k6 reports a tagged submetric only when a threshold names it; these thresholds always pass.
const thresholds = {};
for (let i = 0; i < steps; i++) {
  thresholds[`step_requests{step:${i}}`] = ['count>=0'];
  thresholds[`step_failures{step:${i}}`] = ['count>=0'];
  thresholds[`http_req_duration{step:${i}}`] = ['max>=0'];
}

export const options = {
  discardResponseBodies: true,
  scenarios: {
    rollout: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      startTime: `${Math.max(0, start - Date.now())}ms`,
      duration: `${steps * stepMs}ms`,
      preAllocatedVUs: Number(__ENV.MAX_VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
  thresholds,
  summaryTrendStats: ['p(50)', 'p(99)', 'max'],
};

export default function () {
  const step = String(Math.min(steps - 1, Math.max(0, Math.floor((Date.now() - start) / stepMs))));
  const res = http.get(__ENV.URL, { headers, redirects: 0, timeout: '10s', tags: { step } });
  requests.add(1, { step });
  failures.add(res.status === 200 ? 0 : 1, { step });
}

export function handleSummary(data) {
  const m = data.metrics;
  const perStep = [];
  for (let i = 0; i < steps; i++) {
    const latency = m[`http_req_duration{step:${i}}`].values;
    perStep.push({
      step: i,
      requests: m[`step_requests{step:${i}}`].values.count,
      failed: m[`step_failures{step:${i}}`].values.count,
      latencyMs: { p50: latency['p(50)'], p99: latency['p(99)'], max: latency.max },
    });
  }
  const summary = { rate, droppedIterations: m.dropped_iterations ? m.dropped_iterations.values.count : 0, perStep };
  return { [__ENV.SUMMARY_JSON]: JSON.stringify(summary) };
}
