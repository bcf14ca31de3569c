// Which engine should forward requests, and how far is each from HAProxy? Every engine runs as a
// bare proxy process (bench/proxy-engine-server.ts) in front of the same sample app, next to
// HAProxy (one thread) in front of the same app, and gets the same loads in rotating rounds. CPU
// per request is split into user and system time: the system part (syscalls, loopback TCP) is
// what any proxy pays, the user part is the engine. Medians are reported because the machine is
// shared; the 1-min load average is recorded at each round. Run: node bench/proxy-engines.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSampleApp } from '../harness/processes.ts';
import { closedLoop, fixedRate, rssMiB } from './load.ts';
import { haproxyVersion, startHaproxy } from './support/haproxy.ts';

const ENGINES = ['undici-pool', 'http-agent', 'http+llhttp', 'net+llhttp'] as const;
const HAPROXY = 'HAProxy (nbthread 1)';
const CONCURRENCY = 16;
const RATE = 1000;
const SERVER = fileURLToPath(new URL('./proxy-engine-server.ts', import.meta.url));
const CLOCK_TICKS_PER_SECOND = 100;
// closedLoop sends the origin as Host, which is the host HAProxy routes.
const ROUTE_HOST = '127.0.0.1';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const ROUNDS = Number(values.rounds);

interface Proxy {
  pid: number;
  port: number;
  stop(): Promise<unknown>;
}

interface Sample {
  loadAverage: number;
  rps: number;
  p99: number;
  userUs: number;
  systemUs: number;
  cpuUs: number;
  pacedP99: number;
  rssLoaded: number;
}

/** User and system CPU milliseconds of a process so far (all its threads). */
function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ms = (ticks: string | undefined) => (Number(ticks) * 1000) / CLOCK_TICKS_PER_SECOND;
  return { user: ms(fields[11]), system: ms(fields[12]) };
}

const children = new Set<ChildProcess>();
// A proxy left behind by a benchmark that failed half-way is killed with it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function startEngine(engine: string, upstreamPort: number): Promise<Proxy> {
  const child = spawn(process.execPath, [SERVER, engine, String(upstreamPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve((JSON.parse(line) as { listening: number }).listening),
    );
    child.once('exit', () => reject(new Error(`${engine} proxy exited`)));
  });
  return { pid: child.pid!, port, stop: async () => child.kill('SIGKILL') };
}

async function startProxy(engine: string, upstreamPort: number): Promise<Proxy> {
  if (engine !== HAPROXY) return startEngine(engine, upstreamPort);
  const haproxy = await startHaproxy(ROUTE_HOST, [{ name: 'app', address: `127.0.0.1:${upstreamPort}`, weight: 1 }]);
  return { pid: haproxy.child.pid!, port: haproxy.port, stop: () => haproxy.stop(1000) };
}

async function sample(engine: string, upstreamPort: number): Promise<Sample> {
  const proxy = await startProxy(engine, upstreamPort);
  try {
    const origin = `http://127.0.0.1:${proxy.port}`;
    await closedLoop(origin, '/', CONCURRENCY, { maxRequests: 5000, maxDurationMs: 3000 });
    const loadAverage = loadavg()[0]!;
    const before = cpuTimes(proxy.pid);
    const saturated = await closedLoop(origin, '/', CONCURRENCY, { maxRequests: 100_000, maxDurationMs: 4000 });
    const after = cpuTimes(proxy.pid);
    const perRequest = (ms: number) => (ms * 1000) / saturated.requests;
    const userUs = perRequest(after.user - before.user);
    const systemUs = perRequest(after.system - before.system);
    const paced = await fixedRate(origin, '/', RATE, { maxRequests: RATE * 4, maxDurationMs: 5000 });
    return {
      loadAverage,
      rps: saturated.requestsPerSecond,
      p99: saturated.p99Ms,
      userUs,
      systemUs,
      cpuUs: userUs + systemUs,
      pacedP99: paced.p99Ms,
      rssLoaded: rssMiB(proxy.pid),
    };
  } finally {
    await proxy.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const engines: string[] = [...ENGINES, ...(haproxyVersion() === undefined ? [] : [HAPROXY])];
const app = await startSampleApp();
const samples = new Map<string, Sample[]>(engines.map((e) => [e, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated, so no engine always runs first (or last) in a round.
    for (let i = 0; i < engines.length; i++) {
      const engine = engines[(i + round) % engines.length]!;
      samples.get(engine)!.push(await sample(engine, app.port));
    }
  }
} finally {
  await app.stop();
}
const haproxyCpu = samples.has(HAPROXY) ? median(samples.get(HAPROXY)!.map((s) => s.cpuUs)) : undefined;
const rows = [
  `| engine (median of ${ROUNDS}) | c=${CONCURRENCY} req/s | c=${CONCURRENCY} p99 ms | CPU µs/req (user + sys) | ÷ HAProxy | ${RATE} req/s p99 ms | RSS after load MiB |`,
  '|---|---:|---:|---:|---:|---:|---:|',
  ...engines.map((engine) => {
    const s = samples.get(engine)!;
    const m = (key: keyof Sample) => median(s.map((x) => x[key]));
    const ratio = haproxyCpu === undefined ? '' : `${(m('cpuUs') / haproxyCpu).toFixed(2)}x`;
    return `| ${engine} | ${m('rps').toFixed(0)} | ${m('p99').toFixed(2)} | ${m('cpuUs').toFixed(0)} (${m('userUs').toFixed(0)} + ${m('systemUs').toFixed(0)}) | ${ratio} | ${m('pacedP99').toFixed(2)} | ${m('rssLoaded').toFixed(1)} |`;
  }),
  '',
  `1-min load average at each measurement: ${[...samples.values()]
    .flat()
    .map((s) => s.loadAverage.toFixed(2))
    .join(', ')}.`,
];
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('proxy-engines.json', dir), `${JSON.stringify(Object.fromEntries(samples), null, 2)}\n`);
writeFileSync(new URL('proxy-engines.md', dir), `# proxy engines\n\n${rows.join('\n')}\n`);
console.log(rows.join('\n'));
