// Cold start on the local cluster: the first request to a revision at zero, through the gateway
// and the activator, against the app's own start time (spawn to listening, on this machine), and
// the first request after idle to a revision that keeps a reserved instance instead of zero.
// Also records the bring-up time of `pilotlight up` (warm when the caches are), `kubectl apply`
// to Ready, the memory of the operator's components once idle, and the memory of a revision pod's
// queue-proxy while it proxies load (sent straight to the pod, closed loop then 500 req/s).
// Needs root. Uses the local cluster when one is up (installing this checkout's build with `up`,
// and putting back the ConfigMap keys it changes), else brings one up and down itself.
// Each cold start is also taken apart into phases (bench/support/coldstartTimeline.ts) from a
// watch on the revision, containerd's log and the components' log lines; the median phases are
// tabled and drawn as a stacked bar (coldstart.svg/png).
//   node bench/coldstart.ts [--tries 10] [--timeline-only]
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { HELLOWORLD_IMAGE } from '../cli/images/build.ts';
import { closedLoop, fixedRate, memoryMiB, peakMemory, rssMiB, type LoadResult } from './load.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { workingSetBytes } from './support/cgroupMemory.ts';
import {
  containerdMarks,
  firstLogged,
  firstTimestamped,
  type Marks,
  median,
  medianPhases,
  type Phase,
  phasesOf,
  SIDE_MILESTONES,
  sideOffsets,
} from './support/coldstartTimeline.ts';
import { renderSvg } from './support/plot.ts';
import { epochNow, RevisionWatch } from './support/revisionWatch.ts';
import { stackedBarSvg } from './support/stackedBar.ts';
import { localCluster, runningLocalCluster } from './support/localCluster.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { tries: { type: 'string', default: '10' }, 'timeline-only': { type: 'boolean', default: false } },
});
const tries = Number(values.tries);
/** Only the cold starts and their timeline (no reserved instance, no memory): for trying a change. */
const timelineOnly = values['timeline-only'];
const repo = join(import.meta.dirname, '..');
const resultsDir = join(import.meta.dirname, 'results');
// A cluster already up is used (and left up) rather than a second one started beside it.
const shared = await runningLocalCluster();
const { stateDir, kubeconfig, cli, kubectl, remove } = shared ?? (await localCluster('cold'));
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

export interface CgroupMemory {
  /** memory.usage_in_bytes (v1) or memory.current (v2). */
  usageMiB: number;
  /** What the kubelet counts: usage less inactive file pages. */
  workingSetMiB: number;
}

/** The memory cgroup of a process, as the kubelet reads it; undefined without one. */
function cgroupMemory(pid: number): CgroupMemory | undefined {
  const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = cgroups.find((line) => /^\d+:memory:/.test(line))?.split(':')[2];
  const v2 = cgroups.find((line) => line.startsWith('0::'))?.slice(3);
  const mib = (bytes: number) => bytes / 1024 / 1024;
  const read = (dir: string, usageFile: string, version: 1 | 2) => {
    const usage = Number(readFileSync(join(dir, usageFile), 'utf8'));
    const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
    return { usageMiB: mib(usage), workingSetMiB: mib(workingSetBytes(usage, stat, version)) };
  };
  if (v1 !== undefined && existsSync(`/sys/fs/cgroup/memory${v1}/memory.stat`))
    return read(`/sys/fs/cgroup/memory${v1}`, 'memory.usage_in_bytes', 1);
  if (v2 !== undefined && existsSync(`/sys/fs/cgroup${v2}/memory.current`))
    return read(`/sys/fs/cgroup${v2}`, 'memory.current', 2);
  return undefined;
}

/** Memory of one container: its main process's RSS and its memory cgroup's usage and working set. */
const containerMemory = (pid: number): { rssMiB: number; cgroup: CgroupMemory | undefined } => ({
  rssMiB: rssMiB(pid),
  cgroup: cgroupMemory(pid),
});

const service = (name: string, annotations: Record<string, string> = {}, podSpec: Record<string, unknown> = {}) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: {
    template: {
      metadata: { annotations },
      spec: { ...podSpec, containers: [{ image: HELLOWORLD_IMAGE }] },
    },
  },
});

/**
 * The services whose first request at zero is timed, taking turns in one run so that both see the
 * same machine. The first is the headline: the sample as a user writes it. Without a service
 * account token the pod has no volume, and the kubelet does not wait for one to be mounted (it
 * checks mounts every 300 ms); Knative lets a revision set only `false` here.
 */
const COLD_SERVICES = [
  { name: 'cold', what: 'as written', podSpec: {} },
  {
    name: 'cold-notoken',
    what: 'automountServiceAccountToken: false',
    podSpec: { automountServiceAccountToken: false },
  },
] as const;

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
): Promise<Record<string, { rssMiB: number; cgroup: CgroupMemory | undefined }>> {
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
  const memory = () => {
    const cgroup = cgroupMemory(queue.pid);
    return { ...memoryMiB(queue.pid), cgroup: cgroup?.usageMiB ?? 0, workingSet: cgroup?.workingSetMiB ?? 0 };
  };
  type Sample = ReturnType<typeof memory>;
  const higher = (a: Sample, b: Sample): Sample => ({
    ...peakMemory(a, b),
    cgroup: Math.max(a.cgroup, b.cgroup),
    workingSet: Math.max(a.workingSet, b.workingSet),
  });
  const idle = memory();
  const origin = `http://${queue.podIP}:8012`;
  const load: Record<string, LoadResult> = {};
  /** Each load phase's peaks (each column its own), sampled every 100 ms while it runs. */
  const peak: Record<string, Sample> = {};
  const phase = async (name: string, send: () => Promise<LoadResult>) => {
    let highest = memory();
    const sampler = setInterval(() => (highest = higher(highest, memory())), 100);
    try {
      load[name] = await send();
    } finally {
      clearInterval(sampler);
    }
    peak[name] = higher(highest, memory());
  };
  await phase('closed loop, concurrency 10', () =>
    closedLoop(origin, '/', 10, { maxRequests: 200_000, maxDurationMs: 8000 }),
  );
  await phase('fixed rate 500 req/s', () => fixedRate(origin, '/', 500, { maxRequests: 4000, maxDurationMs: 9000 }));
  await kubectl(['delete', 'ksvc', name, '--wait=true']);
  return { command: command.trim(), idle, peak, load };
}

/** The keys setConfig changed, with the values they had (null: absent), to put back on a shared cluster. */
const changedConfig = new Map<string, Record<string, string | null>>();

const patchConfig = (name: string, data: Record<string, string | null>) =>
  kubectl(['patch', 'configmap', name, '-n', 'knative-serving', '--type=merge', '-p', JSON.stringify({ data })]);

async function setConfig(name: string, data: Record<string, string>): Promise<void> {
  const { stdout } = await kubectl(['get', 'configmap', name, '-n', 'knative-serving', '-o', 'json']);
  const before = (JSON.parse(stdout) as { data?: Record<string, string> }).data ?? {};
  changedConfig.set(name, Object.fromEntries(Object.keys(data).map((key) => [key, before[key] ?? null])));
  await patchConfig(name, data);
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))]!;

/** A cold start's milestones from the watch, containerd's log and the components' logs. */
async function coldStartMarks(
  revision: string,
  sent: number,
  response: number,
  watched: { marks: Marks; pod: string | undefined },
  containerdLines: string[],
): Promise<Marks> {
  const key = `default/${revision}`;
  const since = new Date(sent - 2000).toISOString();
  const componentLines = async (component: string) =>
    (
      await kubectl([
        'logs',
        '-n',
        'knative-serving',
        '-l',
        `app.kubernetes.io/component=${component}`,
        `--since-time=${since}`,
        '--tail=-1',
        '--max-log-requests=10',
      ])
    ).stdout.split('\n');
  const { pod } = watched;
  // The response may come before the kubelet writes that the containers run (queue-proxy's
  // announce does not wait for it), and until then `kubectl logs` refuses: ask again a while.
  const podLines = async (container: string, ...flags: string[]) => {
    if (pod === undefined) return [];
    for (let attempt = 0; attempt < 20; attempt++) {
      const logs = await kubectl(['logs', '-n', 'default', pod, '-c', container, ...flags]).catch(() => undefined);
      if (logs !== undefined) return logs.stdout.split('\n');
      await sleep(250);
    }
    return [];
  };
  const [activator, autoscaler, queue, app] = await Promise.all([
    componentLines('activator'),
    componentLines('autoscaler'),
    podLines('queue-proxy'),
    podLines('user-container', '--timestamps'),
  ]);
  const containerd = pod === undefined ? { containerStarted: {} } : containerdMarks(containerdLines, pod);
  const ofRevision = (fields: Record<string, unknown>) => fields.revision === key;
  return {
    ...watched.marks,
    sent,
    response,
    activatorPoked: firstLogged(activator, 'reporting the first request for a revision', sent, ofRevision),
    autoscalerDecided: firstLogged(
      autoscaler,
      'decided',
      sent,
      (f) => ofRevision(f) && typeof f.desiredPods === 'number' && f.desiredPods > 0,
    ),
    scaleWritten: firstLogged(
      autoscaler,
      'scaled',
      sent,
      (f) => f.from === 0 && String(f['knative.dev/key']).endsWith(`/${revision}`),
    ),
    sandboxStarted: containerd.sandboxStarted,
    sandboxReady: containerd.sandboxReady,
    appContainerStarted: containerd.containerStarted['user-container'],
    queueContainerStarted: containerd.containerStarted['queue-proxy'],
    appListening: firstTimestamped(app, /helloworld listening/),
    queueProxyListening: firstLogged(queue, 'queue-proxy started', sent),
    queueProxySawAppReady: firstLogged(queue, 'user container ready', sent),
    activatorAnnounced: firstLogged(activator, 'pod announced', sent, ofRevision),
    activatorLearnedPod: firstLogged(activator, 'probing a new pod', sent, ofRevision),
    activatorProbeOk: firstLogged(
      activator,
      'pod answered its probe; releasing held requests',
      sent,
      (f) => ofRevision(f) && typeof f.waiting === 'number' && f.waiting > 0,
    ),
  };
}

/** The bytes appended to a file since `offset`, as lines. */
function linesSince(path: string, offset: number): string[] {
  const size = statSync(path).size;
  if (size <= offset) return [];
  const buffer = Buffer.alloc(size - offset);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8').split('\n');
}

const PHASE_COLORS = [
  '#1f77b4',
  '#aec7e8',
  '#ff7f0e',
  '#ffbb78',
  '#2ca02c',
  '#98df8a',
  '#d62728',
  '#ff9896',
  '#9467bd',
  '#c5b0d5',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

interface ColdRuns {
  what: string;
  coldMs: { p50: number; p90: number; max: number };
  phases: ReturnType<typeof medianPhases>;
}

/** The median phases of each service side by side, ms (and how many tries saw each phase). */
function timelineTable(runs: Record<string, ColdRuns>, tries: number): string {
  const names = Object.keys(runs);
  const columns = names.map((name) => `${name} (${runs[name]!.what})`);
  const first = runs[names[0]!]!;
  return [
    `| phase, median of ${tries} tries, ms (tries that saw it) | ${columns.join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|`,
    ...first.phases.map(
      (phase, i) =>
        `| ${phase.label} | ${names.map((n) => `${runs[n]!.phases[i]!.ms.toFixed(1)} (${runs[n]!.phases[i]!.observed})`).join(' | ')} |`,
    ),
    `| **sum of the medians** | ${names.map((n) => runs[n]!.phases.reduce((sum, p) => sum + p.ms, 0).toFixed(1)).join(' | ')} |`,
    `| **first request at zero, p50** | ${names.map((n) => runs[n]!.coldMs.p50.toFixed(1)).join(' | ')} |`,
    `| first request at zero, p90 | ${names.map((n) => runs[n]!.coldMs.p90.toFixed(1)).join(' | ')} |`,
  ].join('\n');
}

try {
  const upStarted = performance.now();
  await cli('up', '--local');
  const upSeconds = (performance.now() - upStarted) / 1000;
  await setConfig('config-autoscaler', { 'stable-window': '6s', 'scale-to-zero-grace-period': '6s' });
  // The autoscaler's decisions are debug lines: a phase of the timeline.
  await setConfig('config-logging', { 'loglevel.autoscaler': 'debug' });
  const applied = performance.now();
  await kubectl(['apply', '-f', '-'], stringify(service('cold')));
  await kubectl(['wait', '--for=condition=Ready', 'ksvc/cold', '--timeout=120s']);
  const applyToReadyMs = performance.now() - applied;
  // Warm while the pod that Ready brought up is still there: the services applied next take
  // longer than the stable window, after which this revision would be at zero again.
  const warm: number[] = [];
  for (let i = 0; i < tries; i++) warm.push((await get('cold.default.example.com')).ms);
  for (const { name, podSpec } of COLD_SERVICES.slice(1)) {
    await kubectl(['apply', '-f', '-'], stringify(service(name, {}, podSpec)));
    await kubectl(['wait', '--for=condition=Ready', `ksvc/${name}`, '--timeout=120s']);
  }
  if (!timelineOnly) {
    await kubectl(
      ['apply', '-f', '-'],
      stringify(service('reserved', { 'pilotlight.dev/reserved-instance': 'enabled' })),
    );
    await kubectl(['wait', '--for=condition=Ready', 'ksvc/reserved', '--timeout=120s']);
  }
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
  const kube = createKubeRest(loadKubeConnection(kubeconfig));
  const watches = COLD_SERVICES.map(({ name }) => new RevisionWatch(kube, 'default', `${name}-00001`));
  for (const watch of watches) watch.start();
  const containerdLog = join(stateDir, 'logs', 'containerd.log');
  const colds: number[][] = COLD_SERVICES.map(() => []);
  const reserved: number[] = [];
  const timelines: { marks: Marks; phases: Phase[] }[][] = COLD_SERVICES.map(() => []);
  try {
    for (let i = 0; i < tries; i++) {
      for (const [s, { name }] of COLD_SERVICES.entries()) {
        const revision = `${name}-00001`;
        await untilIdle(revision);
        const logOffset = statSync(containerdLog).size;
        watches[s]!.begin();
        const sent = epochNow();
        const result = await get(`${name}.default.example.com`);
        const response = epochNow();
        if (result.status !== 200) throw new Error(`first request at zero to ${name} answered ${result.status}`);
        colds[s]!.push(result.ms);
        const marks = await coldStartMarks(
          revision,
          sent,
          response,
          watches[s]!.end(),
          linesSince(containerdLog, logOffset),
        );
        timelines[s]!.push({ marks, phases: phasesOf(marks) });
      }
      if (!timelineOnly) reserved.push(await afterIdle('reserved-00001', 'reserved.default.example.com'));
    }
  } finally {
    for (const watch of watches) watch.stop();
  }
  const summary = (values: number[]) => ({
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    max: Math.max(...values),
  });
  const runs = Object.fromEntries(
    COLD_SERVICES.map(({ name, what }, s) => {
      const side = Object.fromEntries(
        SIDE_MILESTONES.map(({ key, label }) => {
          const offsets = timelines[s]!.flatMap((t) => sideOffsets(t.marks)[key] ?? []);
          return [label, offsets.length === 0 ? undefined : median(offsets)];
        }),
      );
      const run = {
        what,
        coldMs: summary(colds[s]!),
        phases: medianPhases(timelines[s]!.map((t) => t.phases)),
        side,
        timelines: timelines[s]!,
      };
      return [name, run];
    }),
  );
  const cold = colds[0]!;
  const coldMs = summary(cold);
  const timeline = timelineTable(runs, tries);
  const sideTable = [
    `| beside the path, median ms after the request was sent | ${COLD_SERVICES.map((c) => c.name).join(' | ')} |`,
    `|---|${COLD_SERVICES.map(() => '---:').join('|')}|`,
    ...SIDE_MILESTONES.map(
      ({ label }) =>
        `| ${label} | ${COLD_SERVICES.map(({ name }) => runs[name]!.side[label]?.toFixed(1) ?? 'n/a').join(' | ')} |`,
    ),
  ].join('\n');
  mkdirSync(resultsDir, { recursive: true });
  const phases = runs[COLD_SERVICES[0].name]!.phases;
  const chart = stackedBarSvg({
    title: `Cold start from zero on the local cluster: median phases of ${tries} tries`,
    unit: 'ms after the request was sent',
    segments: phases.map((p, i) => ({ name: p.label, color: PHASE_COLORS[i % PHASE_COLORS.length]! })),
    rows: COLD_SERVICES.flatMap(({ name }) => [
      { name: `${name}: median`, values: runs[name]!.phases.map((p) => p.ms) },
      ...runs[name]!.timelines.map((t, i) => ({ name: `${name} ${i + 1}`, values: t.phases.map((p) => p.ms ?? 0) })),
    ]),
  });
  writeFileSync(join(resultsDir, 'coldstart.svg'), chart);
  writeFileSync(join(resultsDir, 'coldstart.png'), renderSvg(chart).png);
  const machine = { cpus: cpus().length, loadavg: loadavg(), uptime: (await run('uptime')).stdout.trim() };
  if (timelineOnly) {
    const result = { machine, sharedCluster: shared !== undefined, tries, coldMs, runs, raw: { colds, warm } };
    const text = [`machine: ${machine.uptime}`, '', timeline, '', sideTable].join('\n');
    writeFileSync(join(resultsDir, 'coldstart-timeline.json'), JSON.stringify(result, null, 2));
    writeFileSync(join(resultsDir, 'coldstart-timeline.md'), `${text}\n`);
    console.log(text);
  } else {
    // Idle: the last requests' pods have scaled away again and nothing is in flight.
    for (const { name } of COLD_SERVICES) await untilIdle(`${name}-00001`);
    await untilIdle('reserved-00001');
    await sleep(10_000);
    const idleMemory = await componentMemory('knative-serving');
    // What an idle revision holds: its reserved pod, against the standard pod min-scale 1 would keep.
    const idleRevisionMemory = await componentMemory('default');
    const queueProxy = await queueProxyUnderLoad();
    const app: number[] = [];
    for (let i = 0; i < tries; i++) app.push(await appStartMs());
    const result = {
      machine,
      /** On a cluster already up, `up` only installed this build: upSeconds is not a bring-up. */
      sharedCluster: shared !== undefined,
      tries,
      upSeconds,
      applyToReadyMs,
      coldMs,
      reservedMs: summary(reserved),
      warmMs: summary(warm),
      appStartMs: summary(app),
      runs,
      idleMemory,
      idleRevisionMemory,
      queueProxy,
      raw: { colds, reserved, warm, app },
    };
    const row = (name: string, s: { p50: number; p90: number; max: number }) =>
      `| ${name} | ${s.p50.toFixed(0)} | ${s.p90.toFixed(0)} | ${s.max.toFixed(0)} |`;
    const memoryRow = (name: string, m: { rssMiB: number; cgroup: CgroupMemory | undefined }) =>
      `| ${name} | ${m.rssMiB.toFixed(1)} | ${m.cgroup?.usageMiB.toFixed(1) ?? 'n/a'} | ${m.cgroup?.workingSetMiB.toFixed(1) ?? 'n/a'} |`;
    const sampleRow = (name: string, m: (typeof queueProxy)['idle']) =>
      `| ${name} | ${m.rss.toFixed(1)} | ${m.fileBacked.toFixed(1)} | ${m.private.toFixed(1)} | ${m.cgroup.toFixed(1)} | ${m.workingSet.toFixed(1)} |`;
    const table = [
      `machine: ${machine.uptime}`,
      '',
      `| ${tries} tries, ms | p50 | p90 | max |`,
      '|---|---:|---:|---:|',
      row('first request at zero (gateway → activator → new pod)', result.coldMs),
      ...COLD_SERVICES.slice(1).map(({ name, what }) => row(`first request at zero, ${what}`, runs[name]!.coldMs)),
      row('first request after idle with a reserved instance (gateway → activator → reserved pod)', result.reservedMs),
      row('warm request (gateway → pod)', result.warmMs),
      row('the app alone: spawn to listening', result.appStartMs),
      '',
      `cold p50 / app start p50 = ${(result.coldMs.p50 / result.appStartMs.p50).toFixed(1)}x; reserved p50 / warm p50 = ${(result.reservedMs.p50 / result.warmMs.p50).toFixed(2)}x`,
      '',
      timeline,
      '',
      sideTable,
      '',
      `pilotlight up${shared ? ' (on the cluster already up: an install of this build)' : ''}: ${upSeconds.toFixed(1)} s; kubectl apply to Ready: ${(applyToReadyMs / 1000).toFixed(2)} s`,
      '',
      '| idle component | RSS MiB | cgroup usage MiB | cgroup working set MiB |',
      '|---|---:|---:|---:|',
      ...Object.entries(idleMemory).map(([pod, m]) => memoryRow(pod, m)),
      '',
      '| idle revision container | RSS MiB | cgroup usage MiB | cgroup working set MiB |',
      '|---|---:|---:|---:|',
      ...Object.entries(idleRevisionMemory).map(([pod, m]) => memoryRow(pod, m)),
      '',
      `queue-proxy in a revision pod under load, run as: \`${queueProxy.command}\``,
      '',
      '| queue-proxy in the pod | RSS MiB | file-backed MiB | private MiB | cgroup usage MiB | cgroup working set MiB |',
      '|---|---:|---:|---:|---:|---:|',
      sampleRow('idle', queueProxy.idle),
      ...Object.entries(queueProxy.peak).map(([phase, m]) =>
        sampleRow(`peak during ${phase} (each column its own)`, m),
      ),
      '',
      '| load sent to the pod | requests | errors | req/s | p50 / p99 ms |',
      '|---|---:|---:|---:|---:|',
      ...Object.entries(queueProxy.load).map(
        ([phase, r]) =>
          `| ${phase} | ${r.requests} | ${r.errors} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} |`,
      ),
    ].join('\n');
    writeFileSync(join(resultsDir, 'coldstart.json'), JSON.stringify(result, null, 2));
    writeFileSync(join(resultsDir, 'coldstart.md'), `${table}\n`);
    console.log(table);
  }
} finally {
  if (shared) {
    const ours = [...COLD_SERVICES.map((c) => c.name), 'reserved', 'loaded'];
    await kubectl(['delete', 'ksvc', ...ours, '--ignore-not-found', '--wait=true']).catch(() => {});
    for (const [name, data] of changedConfig) await patchConfig(name, data).catch(() => {});
  }
  await remove();
}
