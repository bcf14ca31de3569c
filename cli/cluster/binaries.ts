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
