// Cold start on the local cluster: the first request to a revision at zero, through the gateway
// and the activator, against the app's own start time (spawn to listening, on this machine), and
// the first request after idle to a revision that keeps a reserved instance instead of zero.
// Also records the bring-up time of `pilotlight up` (warm when the caches are), `kubectl apply`
// to Ready, the memory of the operator's components once idle, and the memory of a revision pod's
// queue-proxy while it proxies load (sent straight to the pod, closed loop then 500 req/s).
// Needs root; brings the cluster up and down itself.
//   node bench/coldstart.ts [--tries 10]
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { HELLOWORLD_IMAGE } from '../cli/images/build.ts';
import { closedLoop, fixedRate, memoryMiB, peakMemory, rssMiB, type LoadResult } from './load.ts';
import { localCluster } from './support/localCluster.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { tries: { type: 'string', default: '10' } } });
const tries = Number(values.tries);
const repo = join(import.meta.dirname, '..');
const resultsDir = join(import.meta.dirname, 'results');
const { stateDir, cli, kubectl, remove } = await localCluster('cold');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function get(host: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: 31080, path: '/', headers: { host }, timeout: 120_000 }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    })
      .on('error', reject)
      .end();
  });
}

/** The app by itself: from spawn to its "listening" line, as a user would run it. */
async function appStartMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(repo, 'samples', 'apps', 'helloworld.ts')], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const ms = performance.now() - started;
  child.kill();
  return ms;
}

/** Usage of a process's memory cgroup in MiB (v1 total_rss or v2 memory.current); undefined without one. */
function cgroupMiB(pid: number): number | undefined {
  const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = cgroups.find((line) => /^\d+:memory:/.test(line))?.split(':')[2];
  const v2 = cgroups.find((line) => line.startsWith('0::'))?.slice(3);
  let cgroupBytes: number | undefined;
  if (v1 !== undefined && existsSync(`/sys/fs/cgroup/memory${v1}/memory.stat`)) {
    cgroupBytes = Number(
      /^total_rss (\d+)$/m.exec(readFileSync(`/sys/fs/cgroup/memory${v1}/memory.stat`, 'utf8'))?.[1],
    );
  } else if (v2 !== undefined && existsSync(`/sys/fs/cgroup${v2}/memory.current`)) {
    cgroupBytes = Number(readFileSync(`/sys/fs/cgroup${v2}/memory.current`, 'utf8'));
  }
  return cgroupBytes === undefined ? undefined : cgroupBytes / 1024 / 1024;
}

/** Memory of one container: its main process's RSS and its memory cgroup's usage. */
const containerMemory = (pid: number): { rssMiB: number; cgroupMiB: number | undefined } => ({
  rssMiB: rssMiB(pid),
  cgroupMiB: cgroupMiB(pid),
});

const service = (name: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: {
    template: { metadata: { annotations }, spec: { containers: [{ image: HELLOWORLD_IMAGE }] } },
  },
});

/** The host pid of every container of the pods in a namespace, by pod and container name, with the pod's IP. */
async function containerPids(
  namespace: string,
): Promise<{ pod: string; podIP: string; container: string; pid: number }[]> {
  const pods = JSON.parse((await kubectl(['get', 'pods', '-n', namespace, '-o', 'json'])).stdout) as {
    items: {
      metadata: { name: string };
      status: { podIP?: string; containerStatuses?: { name: string; containerID?: string }[] };
    }[];
  };
  const { stdout: tasks } = await run('ctr', [
    '--address',
    join(stateDir, 'containerd', 'containerd.sock'),
    '-n',
    'k8s.io',
    'tasks',
    'ls',
  ]);
  const pidOf = new Map(
    tasks
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length >= 2)
      .map(([id, pid]) => [id!, Number(pid)]),
  );
  return pods.items.flatMap((pod) =>
    (pod.status.containerStatuses ?? []).flatMap((container) => {
      const pid = pidOf.get(container.containerID?.replace(/^containerd:\/\//, '') ?? '');
      return pid ? [{ pod: pod.metadata.name, podIP: pod.status.podIP ?? '', container: container.name, pid }] : [];
    }),
  );
}

/** Every container of the pods in a namespace with its memory, by pod and container name. */
async function componentMemory(
  namespace: string,
): Promise<Record<string, { rssMiB: number; cgroupMiB: number | undefined }>> {
  return Object.fromEntries(
    (await containerPids(namespace)).map((c) => [`${c.pod}/${c.container}`, containerMemory(c.pid)]),
  );
}

/**
 * queue-proxy's memory in a revision pod (min- and max-scale 1) while it proxies load sent to the
 * pod's IP: a closed loop of 10 clients, then 500 req/s, 8 s each, sampled every 100 ms.
 */
async function queueProxyUnderLoad() {
  const name = 'loaded';
  await kubectl(
    ['apply', '-f', '-'],
    stringify(service(name, { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/max-scale': '1' })),
  );
  await kubectl(['wait', '--for=condition=Ready', `ksvc/${name}`, '--timeout=120s']);
  const queue = (await containerPids('default')).find(
    (c) => c.pod.startsWith(`${name}-00001-deployment-`) && c.container === 'queue-proxy',
  );
  if (!queue) throw new Error(`no queue-proxy container found for ${name}`);
  const { stdout: command } = await run('ps', ['-o', 'args=', '-p', String(queue.pid)]);
  const memory = () => ({ ...memoryMiB(queue.pid), cgroup: cgroupMiB(queue.pid) ?? 0 });
  const idle = memory();
  let peak = { ...idle };
  const sample = () => {
    const now = memory();
    peak = { ...peakMemory(peak, now), cgroup: Math.max(peak.cgroup, now.cgroup) };
  };
  const sampler = setInterval(sample, 100);
  const origin = `http://${queue.podIP}:8012`;
  const load: Record<string, LoadResult> = {};
  try {
    load['closed loop, concurrency 10'] = await closedLoop(origin, '/', 10, {
      maxRequests: 200_000,
      maxDurationMs: 8000,
    });
    load['fixed rate 500 req/s'] = await fixedRate(origin, '/', 500, { maxRequests: 4000, maxDurationMs: 9000 });
  } finally {
    clearInterval(sampler);
  }
  sample();
  await kubectl(['delete', 'ksvc', name, '--wait=true']);
  return { command: command.trim(), idle, peak, load };
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))]!;

try {
  const upStarted = performance.now();
  await cli('up', '--local');
  const upSeconds = (performance.now() - upStarted) / 1000;
  await kubectl([
    'patch',
    'configmap',
    'config-autoscaler',
    '-n',
    'knative-serving',
    '--type=merge',
    '-p',
    JSON.stringify({ data: { 'stable-window': '6s', 'scale-to-zero-grace-period': '6s' } }),
  ]);
  const applied = performance.now();
  await kubectl(['apply', '-f', '-'], stringify(service('cold')));
  await kubectl(['wait', '--for=condition=Ready', 'ksvc/cold', '--timeout=120s']);
  const applyToReadyMs = performance.now() - applied;
  await kubectl(
    ['apply', '-f', '-'],
    stringify(service('reserved', { 'pilotlight.dev/reserved-instance': 'enabled' })),
  );
  await kubectl(['wait', '--for=condition=Ready', 'ksvc/reserved', '--timeout=120s']);
  const warm: number[] = [];
  for (let i = 0; i < tries; i++) warm.push((await get('cold.default.example.com')).ms);
  /** Waits until the revision's standard Deployment is at zero with no pod left. */
  const untilIdle = async (revision: string) => {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const { stdout: scale } = await kubectl([
        'get',
        'deployment',
        `${revision}-deployment`,
        '-o',
        'jsonpath={.spec.replicas}/{.status.replicas}',
      ]);
      const { stdout: pods } = await kubectl([
        'get',
        'pods',
        '-l',
        `serving.knative.dev/revision=${revision}`,
        '-o',
        'name',
      ]);
      if ((scale === '0/' || scale === '0/0') && pods.trim() === '') return;
      await sleep(500);
    }
    throw new Error(`${revision} did not scale to zero within 120 s`);
  };
  const afterIdle = async (revision: string, host: string) => {
    await untilIdle(revision);
    const result = await get(host);
    if (result.status !== 200) throw new Error(`first request to ${host} after idle answered ${result.status}`);
    return result.ms;
  };
  const cold: number[] = [];
  const reserved: number[] = [];
  for (let i = 0; i < tries; i++) {
    cold.push(await afterIdle('cold-00001', 'cold.default.example.com'));
    reserved.push(await afterIdle('reserved-00001', 'reserved.default.example.com'));
  }
  // Idle: the last requests' pods have scaled away again and nothing is in flight.
  await untilIdle('cold-00001');
  await untilIdle('reserved-00001');
  await sleep(10_000);
  const idleMemory = await componentMemory('knative-serving');
  // What an idle revision holds: its reserved pod, against the standard pod min-scale 1 would keep.
  const idleRevisionMemory = await componentMemory('default');
  const queueProxy = await queueProxyUnderLoad();
  const app: number[] = [];
  for (let i = 0; i < tries; i++) app.push(await appStartMs());
  const summary = (values: number[]) => ({
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    max: Math.max(...values),
  });
  const result = {
    machine: { cpus: cpus().length, loadavg: loadavg() },
    tries,
    upSeconds,
    applyToReadyMs,
    coldMs: summary(cold),
    reservedMs: summary(reserved),
    warmMs: summary(warm),
    appStartMs: summary(app),
    idleMemory,
    idleRevisionMemory,
    queueProxy,
    raw: { cold, reserved, warm, app },
  };
  const row = (name: string, s: { p50: number; p90: number; max: number }) =>
    `| ${name} | ${s.p50.toFixed(0)} | ${s.p90.toFixed(0)} | ${s.max.toFixed(0)} |`;
  const table = [
    `| ${tries} tries, ms | p50 | p90 | max |`,
    '|---|---:|---:|---:|',
    row('first request at zero (gateway → activator → new pod)', result.coldMs),
    row('first request after idle with a reserved instance (gateway → activator → reserved pod)', result.reservedMs),
    row('warm request (gateway → pod)', result.warmMs),
    row('the app alone: spawn to listening', result.appStartMs),
    '',
    `cold p50 / app start p50 = ${(result.coldMs.p50 / result.appStartMs.p50).toFixed(1)}x; reserved p50 / warm p50 = ${(result.reservedMs.p50 / result.warmMs.p50).toFixed(2)}x`,
    '',
    `pilotlight up: ${upSeconds.toFixed(1)} s; kubectl apply to Ready: ${(applyToReadyMs / 1000).toFixed(2)} s`,
    '',
    '| idle component | RSS MiB | cgroup MiB |',
    '|---|---:|---:|',
    ...Object.entries(idleMemory).map(
      ([pod, m]) => `| ${pod} | ${m.rssMiB.toFixed(1)} | ${m.cgroupMiB?.toFixed(1) ?? 'n/a'} |`,
    ),
    '',
    '| idle revision container | RSS MiB | cgroup MiB |',
    '|---|---:|---:|',
    ...Object.entries(idleRevisionMemory).map(
      ([pod, m]) => `| ${pod} | ${m.rssMiB.toFixed(1)} | ${m.cgroupMiB?.toFixed(1) ?? 'n/a'} |`,
    ),
    '',
    `queue-proxy in a revision pod under load, run as: \`${queueProxy.command}\``,
    '',
    '| queue-proxy in the pod | RSS MiB | file-backed MiB | private MiB | cgroup MiB |',
    '|---|---:|---:|---:|---:|',
    `| idle | ${queueProxy.idle.rss.toFixed(1)} | ${queueProxy.idle.fileBacked.toFixed(1)} | ${queueProxy.idle.private.toFixed(1)} | ${queueProxy.idle.cgroup.toFixed(1)} |`,
    `| peak under load (each column its own peak) | ${queueProxy.peak.rss.toFixed(1)} | ${queueProxy.peak.fileBacked.toFixed(1)} | ${queueProxy.peak.private.toFixed(1)} | ${queueProxy.peak.cgroup.toFixed(1)} |`,
    '',
    '| load sent to the pod | requests | errors | req/s | p50 / p99 ms |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(queueProxy.load).map(
      ([phase, r]) =>
        `| ${phase} | ${r.requests} | ${r.errors} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} |`,
    ),
  ].join('\n');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'coldstart.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(resultsDir, 'coldstart.md'), `${table}\n`);
  console.log(table);
} finally {
  await remove();
}
