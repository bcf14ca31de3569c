import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
  const script = join(repoRoot, 'hack', 'build-k8s.sh');
  const child = spawn('bash', [script, ...components], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`hack/build-k8s.sh ${components.join(' ')} failed with exit code ${code}`);
  const dir = out.trim().split('\n').at(-1);
  if (!dir) throw new Error('hack/build-k8s.sh printed no binary directory');
  return dir;
}

/** The Go tools hack/build-tool.sh builds: helm, and the local cluster's CoreDNS and OCI registry. */
export type Tool = 'helm' | 'coredns' | 'registry';

/** Builds a tool once through the Go module proxy (hack/build-tool.sh) and returns its path. */
export async function ensureTool(tool: Tool): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [join(repoRoot, 'hack', 'build-tool.sh'), tool], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').at(-1)!;
}
