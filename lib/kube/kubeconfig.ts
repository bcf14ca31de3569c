// Where the API server is and how to authenticate, from a kubeconfig file or, inside a pod, the
// service account. Written here rather than taken from @kubernetes/client-node, which costs
// every component about 86 MiB of memory at import for what is a few fields of YAML.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface KubeConnection {
  server: string;
  /** PEM of the CA that signed the server's certificate; the system's CAs when absent. */
  ca?: string;
  insecureSkipTLSVerify?: boolean;
  clientCertificate?: string;
  clientKey?: string;
  /** A static bearer token, or a file re-read on each request (projected tokens rotate). */
  token?: string;
  tokenFile?: string;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

/** The connection of `file`, else $KUBECONFIG (first entry), ~/.kube/config, or the pod's service account. */
export function loadKubeConnection(file?: string): KubeConnection {
  const path = file ?? process.env.KUBECONFIG?.split(':').find(Boolean) ?? join(homedir(), '.kube', 'config');
  if (file || existsSync(path)) return fromKubeconfig(path);
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (host && port && existsSync(join(SERVICE_ACCOUNT, 'token'))) {
    return {
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ca: readFileSync(join(SERVICE_ACCOUNT, 'ca.crt'), 'utf8'),
      tokenFile: join(SERVICE_ACCOUNT, 'token'),
    };
  }
  throw new Error(`no kubeconfig at ${path} and not running in a pod: set KUBECONFIG`);
}

function fromKubeconfig(path: string): KubeConnection {
  const config = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
  const contextName = config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`kubeconfig ${path}: current-context ${JSON.stringify(contextName)} not found`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string')
    throw new Error(`kubeconfig ${path}: cluster ${JSON.stringify(context.cluster)} has no server`);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  const base = dirname(path);
  const material = (inline: unknown, file: unknown): string | undefined => {
    if (typeof inline === 'string') return Buffer.from(inline, 'base64').toString('utf8');
    if (typeof file === 'string') return readFileSync(isAbsolute(file) ? file : join(base, file), 'utf8');
    return undefined;
  };
  if (user.exec || user['auth-provider'])
    throw new Error(
      `kubeconfig ${path}: user ${context.user} uses an exec or auth-provider plugin, which is not supported`,
    );
  const connection: KubeConnection = { server: cluster.server };
  const ca = material(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) connection.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) connection.insecureSkipTLSVerify = true;
  const cert = material(user['client-certificate-data'], user['client-certificate']);
  const key = material(user['client-key-data'], user['client-key']);
  if (cert && key) {
    connection.clientCertificate = cert;
    connection.clientKey = key;
  }
  if (typeof user.token === 'string') connection.token = user.token;
  else if (typeof user.tokenFile === 'string')
    connection.tokenFile = isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile);
  return connection;
}

/** The Authorization header value, if the connection uses a token. */
export function bearer(connection: KubeConnection): string | undefined {
  if (connection.token) return `Bearer ${connection.token}`;
  if (connection.tokenFile) return `Bearer ${readFileSync(connection.tokenFile, 'utf8').trim()}`;
  return undefined;
}
