// A local cluster of the benchmark's own (its own state directory), with `pilotlight` and the
// cached kubectl bound to it, for the scenarios that need Kubernetes; or, for a scenario that
// needs no fresh cluster, the one `pilotlight up` already runs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBinaries } from '../../cli/cluster/binaries.ts';
import { clusterRunning } from '../../cli/cluster/controlPlane.ts';
import { defaultStateDir } from '../../cli/cluster/paths.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');

export interface LocalCluster {
  stateDir: string;
  kubeconfig: string;
  /** `pilotlight <args> --state-dir <this cluster's>`. */
  cli(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
  /** `pilotlight down` (errors ignored), then the state directory is removed. */
  remove(): Promise<void>;
}

function kubectlAt(binary: string, kubeconfig: string, args: string[], input?: string) {
  const child = run(binary, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, maxBuffer: 64 * 1024 * 1024 });
  // kubectl may exit before it reads an empty stdin.
  child.child.stdin?.on('error', () => {});
  child.child.stdin?.end(input ?? '');
  return child;
}

async function boundTo(stateDir: string, remove: LocalCluster['remove']): Promise<LocalCluster> {
  const kubeconfig = join(stateDir, 'kubeconfig');
  const kubectlBinary = join(await ensureBinaries(['kubectl']), 'kubectl');
  return {
    stateDir,
    kubeconfig,
    cli: (...args: string[]) =>
      run(process.execPath, [join(repo, 'cli', 'main.ts'), ...args, '--state-dir', stateDir], {
        maxBuffer: 16 * 1024 * 1024,
      }),
    kubectl: (args, input) => kubectlAt(kubectlBinary, kubeconfig, args, input),
    remove,
  };
}

export async function localCluster(name: string): Promise<LocalCluster> {
  const stateDir = mkdtempSync(join(tmpdir(), `pilotlight-bench-${name}-`));
  const cluster = await boundTo(stateDir, async () => {
    await cluster.cli('down').catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  });
  return cluster;
}

/**
 * The cluster `pilotlight up` runs in the default state directory, when one runs. The machine has
 * one node's networking, so a benchmark uses this one rather than start its own beside it; it is
 * shared, so `remove` leaves it up.
 */
export async function runningLocalCluster(): Promise<LocalCluster | undefined> {
  if (!(await clusterRunning(defaultStateDir))) return undefined;
  return boundTo(defaultStateDir, async () => {});
}

export interface BenchmarkCluster {
  kubeconfig: string;
  kubectl: LocalCluster['kubectl'];
  /** Takes down the cluster this benchmark brought up; leaves a running one it found as it was. */
  release(): Promise<void>;
}

/** The cluster `pilotlight up` runs in the default state directory when it runs, else one of the benchmark's own, up. */
export async function clusterForBenchmark(name: string): Promise<BenchmarkCluster> {
  if (await clusterRunning(defaultStateDir)) {
    const kubeconfig = join(defaultStateDir, 'kubeconfig');
    const kubectlBinary = join(await ensureBinaries(['kubectl']), 'kubectl');
    return {
      kubeconfig,
      kubectl: (args, input) => kubectlAt(kubectlBinary, kubeconfig, args, input),
      release: async () => {},
    };
  }
  const own = await localCluster(name);
  await own.cli('up', '--local');
  return { kubeconfig: own.kubeconfig, kubectl: own.kubectl, release: own.remove };
}
