// Installs pilotlight into the local control plane as host processes: CRDs, then the controller
// (which serves the admission webhook on loopback).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, isRunning, recordedProcesses, startProcess, stopProcesses, tail } from './processes.ts';
import { repoRoot } from './paths.ts';

const run = promisify(execFile);

export interface Kubectl {
  binary: string;
  kubeconfig: string;
}

export async function kubectl(k: Kubectl, args: string[], input?: string): Promise<string> {
  const child = run(k.binary, args, { env: { ...process.env, KUBECONFIG: k.kubeconfig }, maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return (await child).stdout;
}

export async function applyCrds(k: Kubectl): Promise<void> {
  await kubectl(k, ['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]);
  await kubectl(k, ['wait', '--for=condition=Established', '--timeout=60s', '-f', join(repoRoot, 'crds')]);
}

export const SYSTEM_NAMESPACE = 'knative-serving';
const CONTROLLER = 'pilotlight-controller';

/**
 * Runs `pilotlight controller` on this machine, registered with the API server by URL, its
 * metrics on metricsPort (by default a free port, not the in-cluster 9090 another process may hold).
 */
export async function startHostController(k: Kubectl, stateDir: string, metricsPort?: number): Promise<void> {
  const existing = recordedProcesses(stateDir).find((p) => p.name === CONTROLLER);
  if (existing && isRunning(existing.pid, existing.binary)) return;
  await kubectl(k, ['create', 'namespace', SYSTEM_NAMESPACE, '--dry-run=client', '-o', 'yaml']).then((yaml) =>
    kubectl(k, ['apply', '-f', '-'], yaml),
  );
  const port = await freePort();
  const controller = startProcess(
    stateDir,
    CONTROLLER,
    process.execPath,
    [
      join(repoRoot, 'cli', 'main.ts'),
      'controller',
      '--webhook-host',
      '127.0.0.1',
      '--webhook-port',
      String(port),
      '--webhook-url',
      `https://127.0.0.1:${port}`,
      '--metrics-port',
      String(metricsPort ?? (await freePort())),
    ],
    { KUBECONFIG: k.kubeconfig, SYSTEM_NAMESPACE },
  );
  await waitForWebhook(k, { alive: () => isRunning(controller.pid, process.execPath), log: controller.log });
}

export async function stopHostController(stateDir: string): Promise<string[]> {
  return stopProcesses(stateDir, [CONTROLLER]);
}

const PROBE_SERVICE = `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: webhook-probe, namespace: default}
spec:
  template:
    spec:
      containers: [{image: dev.local/probe:1}]
`;

/**
 * Ready once a server-side dry run comes back with the webhook's defaults applied. A controller
 * pod turns Ready before the API server can reach its webhook through the Service, so `up` waits
 * for this too: otherwise the user's first `kubectl apply` may be refused.
 */
export async function waitForWebhook(k: Kubectl, controller?: { alive: () => boolean; log: string }): Promise<void> {
  const deadline = Date.now() + 60_000;
  const logTail = () => (controller === undefined ? '' : `; last lines of ${controller.log}:\n${tail(controller.log)}`);
  while (Date.now() < deadline) {
    if (controller !== undefined && !controller.alive())
      throw new Error(`the controller exited during start-up${logTail()}`);
    const out = await kubectl(k, ['create', '--dry-run=server', '-o', 'json', '-f', '-'], PROBE_SERVICE).catch(
      () => '',
    );
    if (out.includes('"latestRevision"')) return;
    await sleep(200);
  }
  throw new Error(`the admission webhook did not answer within 60 s${logTail()}`);
}
