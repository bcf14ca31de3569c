// queue-proxy's start-up: from spawning node to the process listening, and to its answer to the
// kubelet's readiness probe, which is when a new pod can turn ready. It is on the path of every
// request that finds its revision at zero. Ways to run the same queue-proxy are measured side by
// side, alternated over rounds, medians reported:
// - the tree as the image held it before (cli/images/compile.ts), with and without Node's module
//   compile cache filled ahead of time (support/compileCache.ts);
// - as the image holds it now: queue-proxy/main.js with every project module it imports inlined
//   (cli/images/bundle.ts), with and without the cache;
// - the tree and cache with node's default V8 flags, which keep Node's own code cache for its
//   built-in modules (V8 refuses a code cache made under other flags);
// - for reference, node with the pod's flags running a bare node:http server: the floor.
// Each process runs in a memory cgroup of its own where this machine allows (root, cgroup v1), so
// its memory at ready is also given as a container's working set, beside its RSS.
// Run: node bench/queue-proxy-start.ts [--rounds 15]
import { spawn } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheRoot, repoRoot } from '../cli/cluster/paths.ts';
import { bundleComponent } from '../cli/images/bundle.ts';
import { compileTree } from '../cli/images/compile.ts';
import { QUEUE_NODE_FLAGS } from '../controllers/revision/resources/queueContainer.ts';
import { loopbackQueueProxyEnv, startSampleApp, track } from '../harness/processes.ts';
import { memoryMiB } from './load.ts';
import { createMemoryCgroup } from './support/cgroupMemory.ts';
import { compileCacheEnv, warmCompileCache } from './support/compileCache.ts';
import { machine, markdownTable, writeResults } from './support/results.ts';

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const ROUNDS = Number(options.rounds);
const STARTED = 'queue-proxy started';
const POD_FLAGS = QUEUE_NODE_FLAGS.optimizing;
const DEFAULT_FLAGS = ['--max-semi-space-size=1'];

interface Variant {
  name: string;
  args: string[];
  env?: Record<string, string>;
  reference?: boolean;
}

interface Try {
  listeningMs: number;
  readyMs: number;
  rssMiB: number;
  /** The working set of the process's own memory cgroup, as a container's; undefined where there is none. */
  workingSetMiB?: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// The trees, each laid out as the image's /app is (only what queue-proxy runs).
const work = join(cacheRoot, 'bench', 'queue-proxy-start');
const tree = join(work, 'tree');
compileTree(repoRoot, ['cli/main.ts', 'lib', 'queue-proxy', 'package.json'], tree);
const treeCached = join(work, 'tree-cached');
const bundled = join(work, 'bundled');
const bundledCached = join(work, 'bundled-cached');
for (const dir of [treeCached, bundled, bundledCached]) rmSync(dir, { recursive: true, force: true });
cpSync(tree, treeCached, { recursive: true });
cpSync(tree, bundled, { recursive: true });
await bundleComponent(bundled, 'queue-proxy');
cpSync(bundled, bundledCached, { recursive: true });
const uid = process.getuid?.() ?? 0;
const queueProxyRuns = [
  { flags: POD_FLAGS, modules: ['cli/main.js', 'queue-proxy/main.js'] },
  { flags: DEFAULT_FLAGS, modules: ['cli/main.js', 'queue-proxy/main.js'] },
];
await warmCompileCache({ root: treeCached, node: process.execPath, uid, runs: queueProxyRuns });
await warmCompileCache({ root: bundledCached, node: process.execPath, uid, runs: queueProxyRuns });

const FLOOR = `const s = require('node:http').createServer((q, r) => r.end()).listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ message: '${STARTED}', servingPort: s.address().port })));`;
const cli = (root: string) => [join(root, 'cli', 'main.js'), 'queue-proxy'];
const variants: Variant[] = [
  { name: 'image tree, pod flags (before)', args: [...POD_FLAGS, ...cli(tree)] },
  {
    name: 'image tree + compile cache, pod flags',
    args: [...POD_FLAGS, ...cli(treeCached)],
    env: compileCacheEnv(treeCached),
  },
  { name: 'queue-proxy bundled (the image now), pod flags', args: [...POD_FLAGS, ...cli(bundled)] },
  {
    name: 'queue-proxy bundled + compile cache, pod flags',
    args: [...POD_FLAGS, ...cli(bundledCached)],
    env: compileCacheEnv(bundledCached),
  },
  {
    name: 'image tree + compile cache, default V8 flags',
    args: [...DEFAULT_FLAGS, ...cli(treeCached)],
    env: compileCacheEnv(treeCached),
  },
  { name: 'bare node:http server, pod flags (floor)', args: [...POD_FLAGS, '-e', FLOOR], reference: true },
];

function probe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent: false,
        headers: { 'user-agent': 'kube-probe/1.34', 'k-network-probe': 'queue' },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

async function startOnce(variant: Variant, userPort: number): Promise<Try> {
  const cgroup = createMemoryCgroup('queue-proxy-start');
  const [command, args] = cgroup ? cgroup.wrap(process.execPath, variant.args) : [process.execPath, variant.args];
  const startedAt = performance.now();
  const proc = track(
    spawn(command, args, {
      env: {
        PATH: process.env.PATH ?? '',
        ...variant.env,
        ...loopbackQueueProxyEnv(userPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  try {
    // Read from the pipes as the bytes arrive: the harness's line waiter polls.
    const servingPort = await new Promise<number>((resolve, reject) => {
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString();
        const line = text.split('\n').find((l) => l.includes(STARTED));
        if (line) resolve((JSON.parse(line) as { servingPort: number }).servingPort);
      };
      proc.child.stdout!.on('data', onData);
      proc.child.stderr!.on('data', onData);
      proc.child.once('exit', () => reject(new Error(`${variant.name} exited: ${text}`)));
      setTimeout(() => reject(new Error(`${variant.name} did not start in 10 s: ${text}`)), 10_000).unref();
    });
    const listeningMs = performance.now() - startedAt;
    const status = await probe(servingPort);
    const readyMs = performance.now() - startedAt;
    if (status !== 200) throw new Error(`${variant.name}: readiness probe answered ${status}`);
    return {
      listeningMs,
      readyMs,
      rssMiB: memoryMiB(proc.child.pid!).rss,
      ...(cgroup ? { workingSetMiB: cgroup.workingSetMiB() } : {}),
    };
  } finally {
    await proc.stop(2000);
    cgroup?.remove();
  }
}

const before = machine();
const app = await startSampleApp();
const tries = new Map<string, Try[]>(variants.map((v) => [v.name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated, so no variant always follows the same one.
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length]!;
      tries.get(variant.name)!.push(await startOnce(variant, app.port));
    }
  }
} finally {
  await app.stop();
}
const after = machine();

const summaries = variants.map((v) => {
  const t = tries.get(v.name)!;
  return {
    variant: v.name,
    ...(v.reference ? { reference: true } : {}),
    command: `node ${v.args.map((a) => (a === FLOOR ? '<inline server>' : a.replace(`${work}/`, ''))).join(' ')}`,
    env: v.env,
    listeningMs: { p50: median(t.map((x) => x.listeningMs)), min: Math.min(...t.map((x) => x.listeningMs)) },
    readyMs: { p50: median(t.map((x) => x.readyMs)), min: Math.min(...t.map((x) => x.readyMs)) },
    rssAtReadyMiB: median(t.map((x) => x.rssMiB)),
    workingSetAtReadyMiB: t[0]?.workingSetMiB === undefined ? undefined : median(t.map((x) => x.workingSetMiB!)),
  };
});
const results = {
  machine: { ...after, loadAverageBefore: before.loadAverage1m },
  method: `${ROUNDS} rounds, every variant once per round in rotated order; spawn to the "${STARTED}" line and to the readiness probe's 200 (user app already listening); medians`,
  variants: summaries,
  tries: Object.fromEntries(tries),
};
const f = (n: number) => n.toFixed(1);
const table = markdownTable(
  [
    'queue-proxy run as',
    `spawn → listening ms (p50 of ${ROUNDS})`,
    'min',
    'spawn → ready probe answered ms (p50)',
    'min',
    'RSS at ready MiB (p50)',
    'cgroup working set at ready MiB (p50)',
  ],
  summaries.map((s) => [
    s.variant,
    f(s.listeningMs.p50),
    f(s.listeningMs.min),
    f(s.readyMs.p50),
    f(s.readyMs.min),
    f(s.rssAtReadyMiB),
    s.workingSetAtReadyMiB === undefined ? 'n/a' : f(s.workingSetAtReadyMiB),
  ]),
  [false, true, true, true, true, true, true],
);
const markdown = [
  '# queue-proxy start-up',
  '',
  table,
  '',
  `Pod flags: \`${POD_FLAGS.join(' ')}\`; default V8 flags: \`${DEFAULT_FLAGS.join(' ')}\`. ${after.cpus} CPUs, Node ${after.node}, 1-min load average ${before.loadAverage1m.toFixed(2)} before, ${after.loadAverage1m.toFixed(2)} after.`,
].join('\n');
writeResults('queue-proxy-start', results, markdown);
console.log(markdown);
