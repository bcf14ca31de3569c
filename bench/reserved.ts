// The first request after idle through the activator, on real processes on this machine, for
// three ways of keeping a revision:
//   zero      no pod; the request's stat makes this benchmark play autoscaler and kubelet: it
//             lists the new pod's address with the activator and starts app and queue-proxy
//   reserved  one reserved burstable pod (app + queue-proxy), no standard pod
//   warm      one standard pod, always kept
// and what each holds while idle: the RSS of its idle processes, and the resource requests the
// controller would give the pods (config defaults) — the reserved instance's point. Also the
// app's own start time (spawn to listening), the floor for scale from zero.
// Run: node bench/reserved.ts [--tries 10] [--idle-ms 5000]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { createStatServer, listenStatServer, STAT_PATH } from '../autoscaler/collector/statServer.ts';
import { RESERVED_QUEUE_RESOURCES } from '../controllers/revision/resources/reservedDeployment.ts';
import { parseDefaults } from '../lib/config/defaults.ts';
import { parseDeploymentConfig } from '../lib/config/deployment.ts';
import { parseReservedInstanceConfig } from '../lib/config/reservedInstance.ts';
import {
  eventually,
  putRevision,
  reservePodPorts,
  send,
  startActivator,
  startPod,
  startQueueProxyFor,
  type ActivatorProc,
  type Pod,
  type RevisionSpec,
} from '../harness/activator.ts';
import { startSampleApp } from '../harness/processes.ts';
import { rssMiB } from './load.ts';

const { values } = parseArgs({
  options: { tries: { type: 'string', default: '10' }, 'idle-ms': { type: 'string', default: '5000' } },
});
const TRIES = Number(values.tries);
// Long enough for the activator to forget the revision (its stats tick is 1s, so the next request
// pokes the autoscaler again) and for idle keep-alive connections to the pod to close.
const IDLE_MS = Number(values['idle-ms']);
const TARGET_RESERVED_OVER_WARM = 2;
const SAMPLE_APP = fileURLToPath(new URL('../harness/sampleApp.ts', import.meta.url));

type Mode = 'zero' | 'reserved' | 'warm';
const REVISION: Record<Mode, string> = { zero: 'zero-00001', reserved: 'reserved-00001', warm: 'warm-00001' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), max: sorted.at(-1)! };
}

/** The sample app by itself: from spawn to the line saying it listens. */
async function appStartMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [SAMPLE_APP], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const ms = performance.now() - started;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return ms;
}

const podRssMiB = (pod: Pod) => rssMiB(pod.app.child.pid!) + rssMiB(pod.queueProxy.child.pid!);

/** How many times the activator's probe accepted `pod` for `revision`. */
function accepted(activator: ActivatorProc, revision: string, pod: string): number {
  return activator.lines.filter(
    (l) =>
      l.message === 'pod answered its probe; releasing held requests' &&
      l.revision === `default/${revision}` &&
      l.pod === pod,
  ).length;
}

// The autoscaler's stat endpoint, with a hook per revision for the zero mode's "scale up".
const pokes = new Map<string, number>();
let onPoke: ((revision: string) => void) | undefined;
const statServer = createStatServer({
  receiver: {
    push: (key) => {
      const revision = key.slice(key.indexOf('/') + 1);
      pokes.set(revision, (pokes.get(revision) ?? 0) + 1);
      onPoke?.(revision);
      return true;
    },
  },
});
const statsPort = await listenStatServer(statServer, 0, '127.0.0.1');
const activator = await startActivator(['--stats-url', `http://127.0.0.1:${statsPort}${STAT_PATH}`]);
const client = new Agent({ connections: 4 });
const started: Pod[] = [];
const firstRequestMs: Record<Mode, number[]> = { zero: [], reserved: [], warm: [] };
const pokedPerTry: Record<Mode, number[]> = { zero: [], reserved: [], warm: [] };
let errors = 0;

async function firstRequest(mode: Mode): Promise<void> {
  const before = pokes.get(REVISION[mode]) ?? 0;
  const sentAt = performance.now();
  const answer = await send(activator, client, REVISION[mode], `/${mode}`);
  const ms = performance.now() - sentAt;
  if (answer.status !== 200) {
    errors++;
    console.error(`${mode}: answered ${answer.status} ${answer.body}`);
    return;
  }
  firstRequestMs[mode].push(ms);
  // The stat that pokes the autoscaler is sent without waiting, so it may trail the answer a little.
  await eventually(`${mode}: the autoscaler was told`, () => (pokes.get(REVISION[mode]) ?? 0) > before).then(
    () => pokedPerTry[mode].push(1),
    () => pokedPerTry[mode].push(0),
  );
}

try {
  const appStart: number[] = [];
  for (let i = 0; i < TRIES; i++) appStart.push(await appStartMs());

  const reserved = await startPod();
  const warm = await startPod();
  started.push(reserved, warm);
  const reservedConcurrency = parseReservedInstanceConfig({}).containerConcurrency;
  const reservedSpec: RevisionSpec = {
    containerConcurrency: 0,
    pods: [],
    reserved: { containerConcurrency: reservedConcurrency, pods: [reserved.address] },
  };
  await putRevision(activator, REVISION.reserved, reservedSpec);
  await putRevision(activator, REVISION.warm, { containerConcurrency: 0, pods: [warm.address] });
  await putRevision(activator, REVISION.zero, { containerConcurrency: 0, pods: [] });
  await eventually(
    'reserved and warm pods accepted',
    () =>
      accepted(activator, REVISION.reserved, reserved.address) > 0 &&
      accepted(activator, REVISION.warm, warm.address) > 0,
  );

  let zeroRss = 0;
  // Scale from zero: nothing runs for the revision until its first request's stat arrives.
  const fromZero = async () => {
    let pod: Promise<Pod> | undefined;
    onPoke = (revision) => {
      if (revision !== REVISION.zero || pod !== undefined) return;
      pod = (async () => {
        const ports = await reservePodPorts();
        // Kubernetes lists the new pod's endpoint, not ready, as soon as it is scheduled.
        const listed = putRevision(activator, REVISION.zero, { containerConcurrency: 0, pods: [ports.address] });
        const [app, queueProxy] = await Promise.all([
          startSampleApp({ PORT: String(ports.appPort) }),
          startQueueProxyFor(ports),
          listed,
        ]);
        const created: Pod = {
          app,
          queueProxy,
          address: ports.address,
          stop: async () => {
            await queueProxy.stop();
            await app.stop();
          },
        };
        started.push(created);
        return created;
      })();
    };
    await firstRequest('zero');
    onPoke = undefined;
    if (pod === undefined) return;
    const created = await pod;
    zeroRss = Math.max(zeroRss, podRssMiB(created));
    await putRevision(activator, REVISION.zero, { containerConcurrency: 0, pods: [] });
    await created.stop();
    started.splice(started.indexOf(created), 1);
  };
  const modes: Mode[] = ['warm', 'reserved', 'zero'];
  for (let i = 0; i < TRIES; i++) {
    // The modes take turns in a rotating order, so none always runs first or on a quieter machine.
    for (let j = 0; j < modes.length; j++) {
      const mode = modes[(i + j) % modes.length]!;
      await sleep(IDLE_MS);
      if (mode === 'zero') await fromZero();
      else await firstRequest(mode);
    }
  }

  const idleRss = { zero: 0, reserved: podRssMiB(reserved), warm: podRssMiB(warm), newPodAfterFirstRequest: zeroRss };
  const standardRequests = {
    app: parseDefaults({}).resources.requests,
    queueProxy: parseDeploymentConfig({ 'queue-sidecar-image': 'queue' }).queueSidecarResources.requests,
  };
  const reservedDefaults = parseReservedInstanceConfig({});
  const reservedRequests = {
    app: { cpu: reservedDefaults.cpuRequest, memory: reservedDefaults.memoryRequest },
    queueProxy: RESERVED_QUEUE_RESOURCES.requests,
  };

  const ms = {
    zero: summary(firstRequestMs.zero),
    reserved: summary(firstRequestMs.reserved),
    warm: summary(firstRequestMs.warm),
  };
  const app = summary(appStart);
  const results = {
    machine: { cpus: availableParallelism(), node: process.version, loadAverage1m: loadavg()[0]! },
    tries: TRIES,
    idleMs: IDLE_MS,
    errors,
    firstRequestMs: ms,
    appStartMs: app,
    autoscalerPokedPerTry: { zero: pokedPerTry.zero, reserved: pokedPerTry.reserved, warm: pokedPerTry.warm },
    idleRssMiB: idleRss,
    requests: { standard: standardRequests, reserved: reservedRequests },
    reservedOverWarmP50: ms.reserved.p50 / ms.warm.p50,
    raw: { firstRequestMs, appStart },
  };
  const f = (n: number) => n.toFixed(1);
  const requestsText = (r: { app: Record<string, string>; queueProxy: Record<string, string> }) =>
    `app ${
      Object.keys(r.app).length === 0
        ? 'none (BestEffort unless the Service sets them)'
        : Object.entries(r.app)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
    }; queue-proxy ${Object.entries(r.queueProxy)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`;
  const row = (name: string, s: { p50: number; p90: number; max: number }, extra: string[]) =>
    `| ${name} | ${f(s.p50)} | ${f(s.p90)} | ${f(s.max)} | ${extra.join(' | ')} |`;
  const poked = (mode: Mode) => `${pokedPerTry[mode].reduce((a, b) => a + b, 0)}/${pokedPerTry[mode].length}`;
  const table = [
    `| first request after ${IDLE_MS} ms idle, through the activator (${TRIES} tries), ms | p50 | p90 | max | autoscaler poked | idle RSS (app + queue-proxy) |`,
    '|---|---:|---:|---:|---:|---:|',
    row('(a) scale from zero: pod started on the poke', ms.zero, [
      poked('zero'),
      `0 MiB (${f(zeroRss)} MiB once started, at most)`,
    ]),
    row('(b) reserved instance', ms.reserved, [poked('reserved'), `${f(idleRss.reserved)} MiB`]),
    row('(c) always-warm standard pod', ms.warm, [poked('warm'), `${f(idleRss.warm)} MiB`]),
    row('the app alone: spawn to listening', app, ['', '']),
    '',
    `Reserved p50 / warm p50 = ${f(results.reservedOverWarmP50)}x (target ≤ ${TARGET_RESERVED_OVER_WARM}x); scale from zero p50 / warm p50 = ${f(ms.zero.p50 / ms.warm.p50)}x.`,
    `Requests while idle (config defaults): reserved pod: ${requestsText(reservedRequests)}; standard pod: ${requestsText(standardRequests)}. Both idle pods here run the same processes, so RSS is alike; the reserved pod's saving is what it asks the scheduler for, and that it is one pod where min-scale keeps standard ones.`,
    `Errors: ${errors}. ${availableParallelism()} CPUs, Node ${process.version}, 1-min load average ${f(results.machine.loadAverage1m)}.`,
  ].join('\n');
  const dir = new URL('results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('reserved.json', dir), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('reserved.md', dir), `# reserved instance benchmark\n\n${table}\n`);
  console.log(table);
} finally {
  await client.destroy();
  await activator.stop();
  await Promise.all(started.map((pod) => pod.stop()));
  statServer.closeAllConnections();
  await new Promise((resolve) => statServer.close(resolve));
}
