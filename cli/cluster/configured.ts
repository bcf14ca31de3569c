// The cluster a user has configured: read with @kubernetes/client-node's KubeConfig, as kubectl
// reads it (several files in $KUBECONFIG merged, several contexts, exec and auth-provider users,
// proxy-url, tls-server-name). Only the CLI loads it; the components keep lib/kube/kubeconfig.ts,
// which costs a fraction of its memory.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';

export interface ConfiguredCluster {
  context: string;
  server: string;
}

/** The kubeconfig files kubectl would read: $KUBECONFIG's that exist, else ~/.kube/config. */
function kubeconfigFiles(): string[] {
  const listed = process.env.KUBECONFIG?.split(delimiter).filter(Boolean);
  if (listed && listed.length > 0) return listed.filter((file) => existsSync(file));
  const file = join(homedir(), '.kube', 'config');
  return existsSync(file) ? [file] : [];
}

/**
 * The cluster of context (else the current context), when a kubeconfig is configured; throws,
 * saying what to fix, when it names a context that does not exist or a server that does not answer.
 */
export async function configuredCluster(context?: string): Promise<ConfiguredCluster | undefined> {
  if (kubeconfigFiles().length === 0) {
    if (context) throw new Error(`--context ${context}: no kubeconfig ($KUBECONFIG or ~/.kube/config)`);
    return undefined;
  }
  const config = new KubeConfig();
  config.loadFromDefault();
  if (context) {
    if (!config.getContextObject(context))
      throw new Error(
        `--context ${context}: no such context in the kubeconfig (it has: ${
          config
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    config.setCurrentContext(context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) return undefined;
  try {
    await config.makeApiClient(VersionApi).getCode();
  } catch (error) {
    throw new Error(
      `the kubeconfig's context ${config.getCurrentContext()} names ${cluster.server}, which did not answer (${(error as Error).message}); fix it, or pass --local to start a cluster on this machine`,
    );
  }
  return { context: config.getCurrentContext(), server: cluster.server };
}
