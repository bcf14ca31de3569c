// k6 script of harness/rolloutTimeline.ts: a fixed arrival rate through the gateway while a new
// revision rolls in, counted per second of the run, per answering revision (the app's
// Knative-Serving-Revision header) and per status, so a timeline of each revision's share and
// errors needs no per-request log. k6 counts checks per distinct name, so a check named after the
// second, revision and status is such a count; each request is also tagged with its second for a
// p99 per second (k6 reports a tagged submetric only when a threshold names it; these always pass).
// The run lasts at most SECONDS; the caller stops it with SIGINT once it has seen enough, and
// handleSummary still runs.
//
// Environment: URL, HOST, RATE (req/s), START_EPOCH_MS, SECONDS, MAX_VUS, SUMMARY_JSON (path).
import http from 'k6/http';
import { check } from 'k6';

const headers = { Host: __ENV.HOST || 'localhost' };
const rate = Number(__ENV.RATE || 50);
const start = Number(__ENV.START_EPOCH_MS);
const seconds = Number(__ENV.SECONDS || 60);
const ANSWER = 'answer ';
// A request that got no answer, or an answer without the header (the gateway's or activator's own).
const NO_REVISION = '-';

const thresholds = {};
for (let s = 0; s < seconds; s++) thresholds[`http_req_duration{second:${s}}`] = ['max>=0'];

export const options = {
  discardResponseBodies: true,
  scenarios: {
    rollout: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      startTime: `${Math.max(0, start - Date.now())}ms`,
      duration: `${seconds}s`,
      preAllocatedVUs: Math.min(rate, Number(__ENV.MAX_VUS || 100)),
      maxVUs: Number(__ENV.MAX_VUS || 100),
    },
  },
  thresholds,
  summaryTrendStats: ['p(50)', 'p(99)', 'max'],
};

export default function () {
  const second = String(Math.max(0, Math.floor((Date.now() - start) / 1000)));
  const res = http.get(__ENV.URL, { headers, redirects: 0, timeout: '10s', tags: { second } });
  const revision = res.headers['Knative-Serving-Revision'] || NO_REVISION;
  check(res, { [`${ANSWER}${second} ${revision} ${res.status}`]: () => true });
}

export function handleSummary(data) {
  const m = data.metrics;
  const answers = data.root_group.checks
    .filter((c) => c.name.startsWith(ANSWER))
    .map((c) => {
      const [second, revision, status] = c.name.slice(ANSWER.length).split(' ');
      return {
        second: Number(second),
        revision: revision === NO_REVISION ? null : revision,
        status: Number(status),
        count: c.passes,
      };
    });
  const p99BySecond = [];
  for (let s = 0; s < seconds; s++) {
    const latency = m[`http_req_duration{second:${s}}`];
    if (latency && latency.values.max > 0) p99BySecond.push({ second: s, p99Ms: latency.values['p(99)'] });
  }
  const duration = m.http_req_duration ? m.http_req_duration.values : { 'p(50)': 0, 'p(99)': 0, max: 0 };
  const summary = {
    rate,
    droppedIterations: m.dropped_iterations ? m.dropped_iterations.values.count : 0,
    latencyMs: { p50: duration['p(50)'], p99: duration['p(99)'], max: duration.max },
    answers,
    p99BySecond,
  };
  return { [__ENV.SUMMARY_JSON]: JSON.stringify(summary) };
}
