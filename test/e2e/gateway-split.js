// k6 load script for a pilotlight (or any Knative) gateway: sends requests at a fixed rate, checks
// status codes and reports how many responses each revision served, from the
// Knative-Serving-Revision response header when the backend sets it.
//
//   k6 run -e GATEWAY_URL=http://127.0.0.1:8080/ -e HOST=hello.default.example.com \
//          -e RATE=200 -e DURATION=30s test/e2e/gateway-split.js
//
// Environment:
//   GATEWAY_URL      URL to request (default http://127.0.0.1:8080/)
//   HOST             Host header to send, when the URL's host is the gateway address rather than the route's
//   RATE             requests per second (default 50)
//   DURATION         test length, k6 duration syntax (default 30s)
//   MAX_VUS          most concurrent requests k6 may use to hold the rate (default 100)
//   EXPECTED_STATUS  status every response must have (default 200)
//   TAG              sends Knative-Serving-Tag: <TAG> (tag-header routing)
//   SUMMARY_JSON     also write the summary as JSON to this path
//   RESOLVE          NAME=IP: connect to IP for an https://NAME URL, so SNI names the route (curl's --resolve)
//   INSECURE_TLS     1: accept any server certificate (k6 cannot be given a CA; check certificates apart)
//   NEW_CONNECTIONS  1: a new connection, so a new TLS handshake, for every request
// Build k6 with `hack/build-tool.sh k6` (prints the binary path).
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

const url = __ENV.GATEWAY_URL || 'http://127.0.0.1:8080/';
const rate = Number(__ENV.RATE || 50);
const expectedStatus = Number(__ENV.EXPECTED_STATUS || 200);
const headers = {};
if (__ENV.HOST) headers.Host = __ENV.HOST;
if (__ENV.TAG) headers['Knative-Serving-Tag'] = __ENV.TAG;

const unexpectedStatus = new Rate('unexpected_status');

const [resolveName, resolveIp] = (__ENV.RESOLVE || '').split('=');

export const options = {
  hosts: resolveName ? { [resolveName]: resolveIp } : {},
  insecureSkipTLSVerify: __ENV.INSECURE_TLS === '1',
  noConnectionReuse: __ENV.NEW_CONNECTIONS === '1',
  scenarios: {
    split: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Math.min(rate, Number(__ENV.MAX_VUS || 100)),
      maxVUs: Number(__ENV.MAX_VUS || 100),
    },
  },
  thresholds: { unexpected_status: ['rate==0'] },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

// Revision names are only known from the responses, and k6 reports a tagged submetric only when a
// threshold names it in advance; checks, though, are counted per distinct name, so each revision
// gets a check of its own and handleSummary reads the counts back.
const REVISION_CHECK = 'revision: ';
const STATUS_CHECK = 'status: ';

export default function () {
  const res = http.get(url, { headers, redirects: 0 });
  unexpectedStatus.add(res.status !== expectedStatus);
  check(res, { [`${STATUS_CHECK}${res.status}`]: () => true });
  const revision = res.headers['Knative-Serving-Revision'];
  check(res, { [`${REVISION_CHECK}${revision || '(no Knative-Serving-Revision header)'}`]: () => true });
}

function countsOf(checks, prefix) {
  const counts = {};
  for (const c of checks) if (c.name.startsWith(prefix)) counts[c.name.slice(prefix.length)] = c.passes;
  return counts;
}

export function handleSummary(data) {
  const checks = data.root_group.checks;
  const revisions = countsOf(checks, REVISION_CHECK);
  const statuses = countsOf(checks, STATUS_CHECK);
  const total = Object.values(revisions).reduce((sum, n) => sum + n, 0);
  const duration = data.metrics.http_req_duration.values;
  const summary = {
    url,
    host: headers.Host || null,
    rate,
    requests: total,
    unexpectedStatusRate: data.metrics.unexpected_status.values.rate,
    statuses,
    revisions,
    latencyMs: {
      avg: duration.avg,
      p50: duration['p(50)'],
      p95: duration['p(95)'],
      p99: duration['p(99)'],
      max: duration.max,
    },
  };
  const pad = (s, n) => String(s).padEnd(n);
  const lines = [
    `gateway-split: ${total} requests to ${url}${headers.Host ? ` (Host: ${headers.Host})` : ''} at ${rate}/s`,
    `statuses: ${Object.entries(statuses)
      .map(([s, n]) => `${s}×${n}`)
      .join(', ')}` + `  (expected ${expectedStatus}; unexpected ${(summary.unexpectedStatusRate * 100).toFixed(2)}%)`,
    `latency ms: avg ${duration.avg.toFixed(2)}  p50 ${duration['p(50)'].toFixed(2)}  p95 ${duration['p(95)'].toFixed(2)}  p99 ${duration['p(99)'].toFixed(2)}  max ${duration.max.toFixed(2)}`,
    '',
    `${pad('revision', 48)} ${pad('responses', 10)} share`,
    ...Object.entries(revisions)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${pad(name, 48)} ${pad(n, 10)} ${(total ? (100 * n) / total : 0).toFixed(2)}%`),
    '',
  ];
  const out = { stdout: lines.join('\n') };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(summary, null, 2);
  return out;
}
