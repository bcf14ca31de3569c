// The autoscale-go app of the Knative samples, for a cluster without a registry: each request
// may hold for ?sleep=ms, compute the largest prime below ?prime=N, and allocate ?bloat=MB, then
// says what it did, as the upstream Go app does. With no parameters it answers at once. Each
// answer names its revision (Knative-Serving-Revision: $K_REVISION) so that a client, e.g.
// test/e2e/gateway-split.js, can count how the traffic was split.
// Two knobs of pilotlight's own make a revision a bad one, for canary tests (environment):
//   FAIL_PERCENT  answer 500 to this share of requests (0–100), spread evenly: with 20, every
//                 fifth request of the pod, so a client can tell how many failures it caused
//   DELAY_MS      hold every answer this much longer (on top of ?sleep), a slower revision
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const revision = process.env.K_REVISION ?? '';

/** A knob from the environment, or a start that fails naming it and its rule. */
function knob(name: string, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return 0;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > max)
    throw new Error(`${name}: ${JSON.stringify(text)} must be a number from 0 to ${max}`);
  return value;
}
const failPercent = knob('FAIL_PERCENT', 100);
const delayMs = knob('DELAY_MS', 600_000);
let answered = 0;

/** Whether the nth answer fails: the nth crosses a whole failure when n × percent / 100 does. */
const fails = (n: number) => Math.floor((n * failPercent) / 100) > Math.floor(((n - 1) * failPercent) / 100);

/** The largest prime below n (0 when there is none): a sieve, as upstream, for CPU work. */
function largestPrime(n: number): number {
  const composite = new Uint8Array(Math.max(n, 0));
  let largest = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i]) continue;
    largest = i;
    for (let j = i * i; j < n; j += i) composite[j] = 1;
  }
  return largest;
}

/** A non-negative integer query parameter, or 0; garbage reads as 0 like upstream's strconv failure. */
function parameter(url: URL, name: string): number {
  const value = Number(url.searchParams.get(name) ?? 0);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

// Upper bounds keep one request from taking the pod down: 10 min of sleep, a 100M sieve, 1 GiB.
const LIMITS = { sleep: 600_000, prime: 100_000_000, bloat: 1024 };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  const sleep = Math.min(parameter(url, 'sleep'), LIMITS.sleep);
  const prime = Math.min(parameter(url, 'prime'), LIMITS.prime);
  const bloat = Math.min(parameter(url, 'bloat'), LIMITS.bloat);
  const lines: string[] = [];
  if (bloat > 0) {
    // Touch every page so the memory is really used for the request's lifetime.
    const held = Buffer.alloc(bloat * 1024 * 1024, 1);
    lines.push(`Allocated ${held.length / 1024 / 1024} Mb of memory.`);
  }
  if (prime > 0) lines.push(`The largest prime less than ${prime} is ${largestPrime(prime)}.`);
  const answer = () => {
    const headers = { 'content-type': 'text/plain', ...(revision ? { 'knative-serving-revision': revision } : {}) };
    if (fails(++answered)) {
      res.writeHead(500, headers);
      res.end(`Failing ${failPercent}% of requests on purpose (FAIL_PERCENT).\n`);
      return;
    }
    if (sleep > 0) lines.push(`Slept for ${sleep} milliseconds.`);
    res.writeHead(200, headers);
    res.end(lines.map((line) => `${line}\n`).join(''));
  };
  if (sleep + delayMs > 0) setTimeout(answer, sleep + delayMs);
  else answer();
});
server.listen(port, () => console.log(JSON.stringify({ msg: 'autoscale listening', port })));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
