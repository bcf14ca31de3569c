// One real control plane per test run: etcd + kube-apiserver built from upstream sources, the
// CRDs, and the controller serving the admission webhook on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureBinaries } from '../../../cli/cluster/binaries.ts';
import { startControlPlane, stopControlPlane } from '../../../cli/cluster/controlPlane.ts';
import { applyCrds, startHostController, stopHostController } from '../../../cli/cluster/operator.ts';
import { freePort } from '../../../cli/cluster/processes.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    /** Where the controller serves its Prometheus metrics, on 127.0.0.1. */
    controllerMetricsPort: number;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binDir = await ensureBinaries(['kube-apiserver', 'etcd', 'kubectl']);
  const stateDir = mkdtempSync(join(tmpdir(), 'pilotlight-test-'));
  const log = (line: string) => console.log(`[control plane] ${line}`);
  const started = Date.now();
  const controlPlane = await startControlPlane({ stateDir, ephemeral: true, log });
  const k = { binary: join(binDir, 'kubectl'), kubeconfig: controlPlane.kubeconfig };
  await applyCrds(k);
  const controllerMetricsPort = await freePort();
  await startHostController(k, stateDir, controllerMetricsPort);
  log(`control plane, CRDs and webhook ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('kubeconfig', controlPlane.kubeconfig);
  project.provide('kubectl', k.binary);
  project.provide('controllerMetricsPort', controllerMetricsPort);
  return async () => {
    await stopHostController(stateDir);
    await stopControlPlane(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  };
}
