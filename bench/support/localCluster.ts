// A local cluster of the benchmark's own (its own state directory), with `pilotlight` and the
// cached kubectl bound to it, for the scenarios that need Kubernetes.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBinaries } from '../../cli/cluster/binaries.ts';

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

export async function localCluster(name: string): Promise<LocalCluster> {
  const stateDir = mkdtempSync(join(tmpdir(), `pilotlight-bench-${name}-`));
  const kubeconfig = join(stateDir, 'kubeconfig');
  const kubectlBinary = join(await ensureBinaries(['kubectl']), 'kubectl');
  const cli = (...args: string[]) =>
    run(process.execPath, [join(repo, 'cli', 'main.ts'), ...args, '--state-dir', stateDir], {
      maxBuffer: 16 * 1024 * 1024,
    });
  return {
    stateDir,
    kubeconfig,
    cli,
    kubectl(args, input) {
      const child = run(kubectlBinary, args, { env: { ...process.env, KUBECONFIG: kubeconfig } });
      // kubectl may exit before it reads an empty stdin.
      child.child.stdin?.on('error', () => {});
      child.child.stdin?.end(input ?? '');
      return child;
    },
    async remove() {
      await cli('down').catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
