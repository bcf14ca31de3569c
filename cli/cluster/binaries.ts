import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';

export type Component =
  | 'kube-apiserver'
  | 'etcd'
  | 'kubectl'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubelet'
  | 'kube-proxy';

/**
 * Builds (first time) or finds (cached) the given Kubernetes components and returns the
 * directory that holds them. The build's progress goes to stderr.
 */
export async function ensureBinaries(components: Component[]): Promise<string> {
  return runBuildScript('build-k8s.sh', components);
}

/** Runs a hack/ build script with its progress on our stderr; its last line of stdout is the result. */
async function runBuildScript(script: string, args: string[]): Promise<string> {
  const child = spawn('bash', [join(repoRoot, 'hack', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`hack/${script} ${args.join(' ')} failed with exit code ${code}`);
  const result = out.trim().split('\n').at(-1);
  if (!result) throw new Error(`hack/${script} ${args.join(' ')} printed no path`);
  return result;
}

/** The Go tools hack/build-tool.sh builds: helm, and the local cluster's CoreDNS and OCI registry. */
export type Tool = 'helm' | 'coredns' | 'registry';

/**
 * Builds a tool once through the Go module proxy (hack/build-tool.sh) and returns its path. The
 * build's progress (minutes, the first time) goes to stderr.
 */
export async function ensureTool(tool: Tool): Promise<string> {
  return runBuildScript('build-tool.sh', [tool]);
}
