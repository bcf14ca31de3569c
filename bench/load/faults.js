// k6 script of bench/faults.ts: a fixed arrival rate of GETs through the gateway for as long as
// one fault takes, every request written as one console line [sentMs, doneMs, status, errorCode]
// (a failed one with k6's error message after),
// so the benchmark can count failures, requests in flight at the fault and latency per window
// itself. Run with --log-format raw --console-output FILE.
//
// Environment: URL, HOST, RATE (req/s), DURATION (k6 duration, an upper bound: the benchmark stops
// k6 with SIGINT once the fault has settled), MAX_VUS, TIMEOUT (per request, k6 duration).
import http from 'k6/http';

const rate = Number(__ENV.RATE || 40);
const headers = { Host: __ENV.HOST };

export const options = {
  discardResponseBodies: true,
  scenarios: {
    faults: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '120s',
      preAllocatedVUs: Number(__ENV.MAX_VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
};

export default function () {
  const sent = Date.now();
  const res = http.get(__ENV.URL, { headers, redirects: 0, timeout: __ENV.TIMEOUT || '30s' });
  const line = [sent, Date.now(), res.status, res.error_code];
  // A failure also says what went wrong, in k6's words (the code alone lumps EOFs and more together).
  if (res.status !== 200) line.push(res.error);
  console.log(JSON.stringify(line));
}

// Only what the console lines cannot tell: iterations k6 could not start for want of a VU.
export function handleSummary(data) {
  const dropped = data.metrics.dropped_iterations;
  return { [__ENV.SUMMARY_JSON]: JSON.stringify({ droppedIterations: dropped ? dropped.values.count : 0 }) };
}
