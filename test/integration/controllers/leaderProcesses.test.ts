// Two `pilotlight controller` processes, as the chart's two replicas run: the one holding the
// Lease reconciles, the other stays idle; SIGKILLed, the leader cannot release its Lease, and the
// other takes over once the Lease expires and reconciles what changed meanwhile. The processes
// register the admission webhook cluster-wide, so they get a control plane of their own rather
// than the shared one, whose webhook other tests rely on.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBinaries } from '../../../cli/cluster/binaries.ts';
import { startControlPlane, stopControlPlane } from '../../../cli/cluster/controlPlane.ts';
import { applyCrds, kubectl, SYSTEM_NAMESPACE } from '../../../cli/cluster/operator.ts';
import { freePort, startProcess, stopProcesses, type ManagedProcess } from '../../../cli/cluster/processes.ts';
import { repoRoot } from '../../../cli/cluster/paths.ts';
import { loadKubeConnection } from '../../../lib/kube/kubeconfig.ts';
import type { LeaseSpec } from '../../../lib/kube/leaderElection.ts';
import { createKubeRest, type KubeRest } from '../../../lib/kube/rest.ts';
import { FakeDataPlane, isReadyNow, ksvc, QUEUE_IMAGE, waitFor } from './harness.ts';

type Json = Record<string, any>;

const LEASE_DURATION_MS = 4000;
const RENEW_DEADLINE_MS = 3000;
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/pilotlight-controller`;
const NS = 'leader-processes';

let stateDir: string;
let api: KubeRest;
let kubeconfig: string;
let dataPlane: FakeDataPlane | undefined;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-leaders-'));
  const controlPlane = await startControlPlane({ stateDir, ephemeral: true });
  kubeconfig = controlPlane.kubeconfig;
  const k = { binary: join(await ensureBinaries(['kubectl']), 'kubectl'), kubeconfig };
  await applyCrds(k);
  await kubectl(k, ['create', 'namespace', SYSTEM_NAMESPACE]);
  await kubectl(k, ['create', 'namespace', NS]);
  api = createKubeRest(loadKubeConnection(kubeconfig));
  await putConfigMap('config-deployment', { 'queue-sidecar-image': QUEUE_IMAGE });
  await putConfigMap('config-leader-election', {
    'lease-duration': `${LEASE_DURATION_MS}ms`,
    'renew-deadline': `${RENEW_DEADLINE_MS}ms`,
    'retry-period': '500ms',
  });
  // Fresh CRDs answer "storage is (re)initializing" for a moment, which would stop the fake data plane.
  for (const path of [
    `/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/${NS}/podautoscalers`,
    `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${NS}/ingresses`,
  ])
    await waitFor(`${path} to list`, () => api.request('GET', path).catch(() => undefined));
  dataPlane = new FakeDataPlane(api, NS).start();
});

afterAll(async () => {
  try {
    await dataPlane?.stop();
  } finally {
    await stopProcesses(stateDir, ['controller-a', 'controller-b']);
    await stopControlPlane(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

async function putConfigMap(name: string, data: Record<string, string>): Promise<void> {
  await api.request('POST', `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps`, {
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data },
  });
}

async function startController(name: string): Promise<ManagedProcess & { webhookUrl: string }> {
  const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
  const webhookUrl = `https://127.0.0.1:${port}`;
  const started = startProcess(
    stateDir,
    `controller-${name}`,
    process.execPath,
    [
      join(repoRoot, 'cli', 'main.ts'),
      'controller',
      '--webhook-host',
      '127.0.0.1',
      '--webhook-port',
      String(port),
      '--webhook-url',
      webhookUrl,
      '--metrics-port',
      String(metricsPort),
    ],
    { KUBECONFIG: kubeconfig, SYSTEM_NAMESPACE, POD_NAME: `controller-${name}`, POD_IP: '' },
  );
  return { ...started, webhookUrl };
}

const lease = () => api.request<{ spec: LeaseSpec }>('GET', LEASE_PATH).catch(() => undefined);
const service = () => api.request<Json>('GET', `/apis/serving.knative.dev/v1/namespaces/${NS}/services/app`);
const becameLeader = (process: ManagedProcess) => readFileSync(process.log, 'utf8').includes('"became leader"');

describe('Two controller processes', () => {
  it('reconcile through the Lease holder only, and the other takes over when the holder is SIGKILLed', async () => {
    const first = await startController('a');
    const holderA = await waitFor(
      'controller-a to lead',
      lease,
      (l) => !!l.spec.holderIdentity?.startsWith('controller-a_'),
    );
    const second = await startController('b');
    // Each registers the webhook at its own address as it starts (in the chart both name one
    // Service); controller-b's, registered last, outlives controller-a.
    await waitFor(
      'controller-b to serve the webhook',
      () => api.request<Json>('GET', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'),
      (list) => JSON.stringify(list).includes(second.webhookUrl),
    );

    await api.request('POST', `/apis/serving.knative.dev/v1/namespaces/${NS}/services`, {
      body: ksvc('app', 'dev.local/app:1'),
    });
    await waitFor('app to be ready', service, isReadyNow, 30_000);
    expect(becameLeader(first)).toBe(true);
    expect(becameLeader(second)).toBe(false);
    expect((await lease())?.spec.holderIdentity).toBe(holderA.spec.holderIdentity);

    const lastRenewByA = Date.parse((await lease())!.spec.renewTime!);
    process.kill(first.pid, 'SIGKILL');
    const current = await service();
    current.spec.template.spec.containers[0].image = 'dev.local/app:2';
    await api.request('PUT', `/apis/serving.knative.dev/v1/namespaces/${NS}/services/app`, { body: current });

    const holderB = await waitFor(
      'controller-b to take the Lease over',
      lease,
      (l) => !!l.spec.holderIdentity?.startsWith('controller-b_'),
      30_000,
    );
    expect(holderB.spec.leaseTransitions).toBe((holderA.spec.leaseTransitions ?? 0) + 1);
    // The dead holder's record has to expire first: one lease duration after controller-b saw it
    // last change, plus controller-b's polling, which renewDeadline bounds generously.
    const takeoverMs = Date.parse(holderB.spec.acquireTime!) - lastRenewByA;
    expect(takeoverMs).toBeGreaterThanOrEqual(LEASE_DURATION_MS - 1000);
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RENEW_DEADLINE_MS);
    expect(becameLeader(second)).toBe(true);

    const updated = await waitFor(
      'app at generation 2 to be ready, reconciled by controller-b',
      service,
      (s) => isReadyNow(s) && s.metadata.generation === 2 && s.status.latestReadyRevisionName === 'app-00002',
      30_000,
    );
    expect(updated.status.latestReadyRevisionName).toBe('app-00002');
  }, 120_000);
});
