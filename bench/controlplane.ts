// Control-plane benchmark: apply N Knative Services to a real kube-apiserver with the
// controller running as its own process, and measure the time until all are Ready (pod,
// autoscaler and gateway readiness simulated through status subresources) and the
// controller's memory.
//   node bench/controlplane.ts [--services 200]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries } from '../cli/cluster/binaries.ts';
import { startControlPlane, stopControlPlane } from '../cli/cluster/controlPlane.ts';
import {
  SYSTEM_NAMESPACE,
  applyCrds,
  kubectl,
  startHostController,
  stopHostController,
} from '../cli/cluster/operator.ts';
import { recordedProcesses } from '../cli/cluster/processes.ts';
import { createKubeRest } from '../lib/kube/rest.ts';
import { loadKubeConnection } from '../lib/kube/kubeconfig.ts';
import { FakeDataPlane } from '../harness/fakeDataPlane.ts';
import { rssMiB } from './load.ts';

const { values } = parseArgs({ options: { services: { type: 'string', default: '200' } } });
const count = Number(values.services);
const namespace = 'bench';
const resultsDir = join(import.meta.dirname, 'results');

const stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-bench-cp-'));
const binDir = await ensureBinaries(['kube-apiserver', 'etcd', 'kubectl']);
const controlPlane = await startControlPlane({ stateDir, ephemeral: true });
const k = { binary: join(binDir, 'kubectl'), kubeconfig: controlPlane.kubeconfig };
const api = createKubeRest(loadKubeConnection(controlPlane.kubeconfig));
let dataPlane: FakeDataPlane | undefined;
try {
  await applyCrds(k);
  await kubectl(k, ['create', 'namespace', SYSTEM_NAMESPACE]);
  await kubectl(k, [
    'create',
    'configmap',
    'config-deployment',
    '-n',
    SYSTEM_NAMESPACE,
    '--from-literal=queue-sidecar-image=dev.local/pilotlight/pilotlight:bench',
  ]);
  await kubectl(k, ['create', 'configmap', 'config-domain', '-n', SYSTEM_NAMESPACE, '--from-literal=example.com=']);
  await kubectl(k, ['create', 'namespace', namespace]);
  await startHostController(k, stateDir);
  const controller = recordedProcesses(stateDir).find((p) => p.name === 'pilotlight-controller')!;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idleRss = rssMiB(controller.pid);

  dataPlane = new FakeDataPlane(api, namespace).start();
  const manifests = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace },
      spec: { template: { spec: { containers: [{ image: 'dev.local/hello:1' }] } } },
    }),
  ).join('\n');
  const started = Date.now();
  await kubectl(k, ['apply', '-f', '-'], manifests);
  const applied = Date.now();
  let peakRss = idleRss;
  let ready = 0;
  const deadline = started + 600_000;
  while (ready < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    peakRss = Math.max(peakRss, rssMiB(controller.pid));
    const services = await api.request<{
      items: {
        metadata: { generation: number };
        status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
      }[];
    }>('GET', `/apis/serving.knative.dev/v1/namespaces/${namespace}/services`);
    ready = services.items.filter(
      (s) =>
        s.status?.observedGeneration === s.metadata.generation &&
        s.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
  }
  const allReady = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const settledRss = rssMiB(controller.pid);

  const result = {
    machine: { cpus: (await import('node:os')).cpus().length, loadavg: (await import('node:os')).loadavg() },
    services: count,
    ready,
    applySeconds: (applied - started) / 1000,
    allReadySeconds: (allReady - started) / 1000,
    controllerRssMiB: { idle: idleRss, peak: peakRss, settled: settledRss },
  };
  const table = [
    `| services | all Ready after | kubectl apply | controller RSS idle | peak | settled |`,
    `|---:|---:|---:|---:|---:|---:|`,
    `| ${ready}/${count} | ${result.allReadySeconds.toFixed(1)} s | ${result.applySeconds.toFixed(1)} s | ${idleRss.toFixed(0)} MiB | ${peakRss.toFixed(0)} MiB | ${settledRss.toFixed(0)} MiB |`,
  ].join('\n');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'controlplane.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(resultsDir, 'controlplane.md'), `${table}\n`);
  console.log(table);
  if (ready < count) process.exitCode = 1;
} finally {
  await dataPlane?.stop();
  await stopHostController(stateDir);
  await stopControlPlane(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
}
