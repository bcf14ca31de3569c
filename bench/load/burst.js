// k6 script of bench/burst.ts: a ramping arrival rate against a revision at zero, in the steps of
// upstream's load test (0 → 1k → 2k → 3k req/s), starting at START_EPOCH_MS. Every request is
// tagged with the second of the run it was sent in, so the summary can give latency and errors per
// second without a per-request log, and with a check named after its status, so the summary
// can count responses by status.
//
// Environment: URL, HOST, START_EPOCH_MS, STAGES ("10s:1000,30s:1000,…": k6 durations and targets
// in req/s), MAX_VUS, SUMMARY_JSON (path).
import http from 'k6/http';
import { check } from 'k6';

const headers = { Host: __ENV.HOST || 'localhost' };
const start = Number(__ENV.START_EPOCH_MS);
const stages = (__ENV.STAGES || '10s:100').split(',').map((stage) => {
  const [duration, target] = stage.split(':');
  return { duration, target: Number(target) };
});
const seconds = stages.reduce((sum, s) => sum + Number(s.duration.replace(/s$/, '')), 0);

// k6 reports a tagged submetric only when a threshold names it; these thresholds always pass.
const thresholds = {};
for (let s = 0; s <= seconds; s++) {
  thresholds[`http_reqs{second:${s}}`] = ['count>=0'];
  thresholds[`http_req_failed{second:${s}}`] = ['rate>=0'];
  thresholds[`http_req_duration{second:${s}}`] = ['max>=0'];
}

export const options = {
  discardResponseBodies: true,
  scenarios: {
    burst: {
      executor: 'ramping-arrival-rate',
      startTime: `${Math.max(0, start - Date.now())}ms`,
      startRate: 0,
      timeUnit: '1s',
      stages,
      preAllocatedVUs: 200,
      maxVUs: Number(__ENV.MAX_VUS || 1500),
    },
  },
  thresholds,
  summaryTrendStats: ['p(50)', 'p(95)', 'p(99)', 'max'],
};

// k6 counts checks per distinct name, so a check named after the status counts responses by status.
const STATUS_CHECK = 'status ';

export default function () {
  const second = String(Math.max(0, Math.floor((Date.now() - start) / 1000)));
  const res = http.get(__ENV.URL, { headers, redirects: 0, timeout: '15s', tags: { second } });
  check(res, { [`${STATUS_CHECK}${res.status}`]: () => true });
}

export function handleSummary(data) {
  const m = data.metrics;
  const duration = m.http_req_duration.values;
  const perSecond = [];
  for (let s = 0; s <= seconds; s++) {
    const requests = m[`http_reqs{second:${s}}`].values.count;
    const latency = m[`http_req_duration{second:${s}}`].values;
    perSecond.push({
      second: s,
      requests,
      failed: m[`http_req_failed{second:${s}}`].values.passes,
      p95Ms: requests > 0 ? latency['p(95)'] : null,
      maxMs: requests > 0 ? latency.max : null,
    });
  }
  const summary = {
    requests: m.http_reqs ? m.http_reqs.values.count : 0,
    failed: m.http_req_failed ? m.http_req_failed.values.passes : 0,
    droppedIterations: m.dropped_iterations ? m.dropped_iterations.values.count : 0,
    maxVUs: m.vus_max ? m.vus_max.values.max : 0,
    latencyMs: { p50: duration['p(50)'], p95: duration['p(95)'], p99: duration['p(99)'], max: duration.max },
    statuses: Object.fromEntries(
      data.root_group.checks
        .filter((c) => c.name.startsWith(STATUS_CHECK))
        .map((c) => [c.name.slice(STATUS_CHECK.length), c.passes]),
    ),
    perSecond,
  };
  return { [__ENV.SUMMARY_JSON]: JSON.stringify(summary) };
}
