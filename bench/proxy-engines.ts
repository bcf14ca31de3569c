// Which engine should forward queue-proxy's requests: node:http server + undici Pool (the
// lib/http exchange) or node:http server + http.request on a keep-alive http.Agent? Each runs
// as a bare proxy process (bench/proxy-engine-server.ts) in front of the same sample app and
// gets the same loads, in alternating rounds; medians are reported because the machine is
// shared. Run: node bench/proxy-engines.ts
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startSampleApp } from '../harness/processes.ts';
import { closedLoop, cpuMs, fixedRate, rssMiB } from './load.ts';

const ENGINES = ['undici-pool', 'http-agent'] as const;
const ROUNDS = 3;
const SERVER = fileURLToPath(new URL('./proxy-engine-server.ts', import.meta.url));

interface Sample {
  rssIdle: number;
  rps: number;
  p99: number;
  cpuUs: number;
  pacedP50: number;
  pacedP99: number;
  rssLoaded: number;
}

async function startEngine(engine: string, upstreamPort: number): Promise<{ pid: number; port: number; stop(): void }> {
  const child = spawn(process.execPath, [SERVER, engine, String(upstreamPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve((JSON.parse(line) as { listening: number }).listening),
    );
    child.once('exit', () => reject(new Error(`${engine} proxy exited`)));
  });
  return { pid: child.pid!, port, stop: () => child.kill('SIGKILL') };
}

async function sample(engine: string, upstreamPort: number): Promise<Sample> {
  const proxy = await startEngine(engine, upstreamPort);
  try {
    const origin = `http://127.0.0.1:${proxy.port}`;
    const rssIdle = rssMiB(proxy.pid);
    await closedLoop(origin, '/', 10, { maxRequests: 3000, maxDurationMs: 3000 });
    const cpuBefore = cpuMs(proxy.pid);
    const saturated = await closedLoop(origin, '/', 10, { maxRequests: 50_000, maxDurationMs: 4000 });
    const cpuUs = ((cpuMs(proxy.pid) - cpuBefore) * 1000) / saturated.requests;
    const paced = await fixedRate(origin, '/', 500, { maxRequests: 2000, maxDurationMs: 5000 });
    return {
      rssIdle,
      rps: saturated.requestsPerSecond,
      p99: saturated.p99Ms,
      cpuUs,
      pacedP50: paced.p50Ms,
      pacedP99: paced.p99Ms,
      rssLoaded: rssMiB(proxy.pid),
    };
  } finally {
    proxy.stop();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const app = await startSampleApp();
const samples = new Map<string, Sample[]>(ENGINES.map((e) => [e, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const engine of round % 2 === 0 ? ENGINES : [...ENGINES].reverse())
      samples.get(engine)!.push(await sample(engine, app.port));
  }
} finally {
  await app.stop();
}
const rows = [
  `| engine (median of ${ROUNDS}) | RSS idle MiB | c=10 req/s | c=10 p99 ms | CPU µs/req at c=10 | 500 req/s p50 ms | 500 req/s p99 ms | RSS after load MiB |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...ENGINES.map((engine) => {
    const s = samples.get(engine)!;
    const m = (key: keyof Sample, digits: number) => median(s.map((x) => x[key])).toFixed(digits);
    return `| ${engine} | ${m('rssIdle', 1)} | ${m('rps', 0)} | ${m('p99', 2)} | ${m('cpuUs', 0)} | ${m('pacedP50', 2)} | ${m('pacedP99', 2)} | ${m('rssLoaded', 1)} |`;
  }),
];
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('proxy-engines.json', dir), `${JSON.stringify(Object.fromEntries(samples), null, 2)}\n`);
writeFileSync(new URL('proxy-engines.md', dir), `# proxy engines\n\n${rows.join('\n')}\n`);
console.log(rows.join('\n'));
