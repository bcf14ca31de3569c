// k6 script of bench/hop-overhead.ts: one path at a fixed arrival rate (an open model, so a slow
// path shows as latency and dropped iterations rather than as a lower rate), with the headers a
// gateway would add, so every path from the app to the gateway receives the same request.
//
//   k6 run -e URL='http://127.0.0.1:8080/?sleep=100' -e HOST=hello.default.example.com \
//          -e REVISION=hello-00001 -e RATE=500 -e DURATION=10s -e SUMMARY_JSON=out.json bench/load/hop-overhead.js
//
// Environment: URL, HOST (Host header), REVISION (Knative-Serving-Revision/-Namespace headers, which
// the activator routes by), RATE (req/s), DURATION (k6 syntax), MAX_VUS, SUMMARY_JSON (path).
import http from 'k6/http';

const rate = Number(__ENV.RATE || 100);
const headers = { Host: __ENV.HOST || 'localhost' };
if (__ENV.REVISION) {
  headers['Knative-Serving-Revision'] = __ENV.REVISION;
  headers['Knative-Serving-Namespace'] = 'default';
}
// The latency distribution, dense enough to draw: every 5th percentile, then the tail.
const PERCENTILES = [
  1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9,
];

export const options = {
  discardResponseBodies: true,
  scenarios: {
    hop: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      // The handler holds each request, so in-flight requests are rate × hold time; VUs are
      // allocated up front so k6's own start-up does not show as latency.
      preAllocatedVUs: Number(__ENV.MAX_VUS || 400),
      maxVUs: Number(__ENV.MAX_VUS || 400),
    },
  },
  summaryTrendStats: ['min', 'max', 'avg', ...PERCENTILES.map((p) => `p(${p})`)],
};

export default function () {
  http.get(__ENV.URL, { headers, redirects: 0, timeout: '10s' });
}

export function handleSummary(data) {
  const m = data.metrics;
  const duration = m.http_req_duration.values;
  const summary = {
    rate,
    requests: m.http_reqs ? m.http_reqs.values.count : 0,
    failed: m.http_req_failed ? m.http_req_failed.values.passes : 0,
    droppedIterations: m.dropped_iterations ? m.dropped_iterations.values.count : 0,
    latencyMs: {
      min: duration.min,
      max: duration.max,
      avg: duration.avg,
      percentiles: PERCENTILES.map((p) => [p, duration[`p(${p})`]]),
    },
  };
  return { [__ENV.SUMMARY_JSON]: JSON.stringify(summary) };
}
