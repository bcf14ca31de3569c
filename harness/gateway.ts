// The gateway as a real child process with the static routing source, and KIngress/backends files
// for it pointing at sample-app processes on loopback.
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { track, waitForLine, type Proc } from './processes.ts';

const GATEWAY_MAIN = fileURLToPath(new URL('../gateway/main.ts', import.meta.url));

export interface Backend {
  namespace?: string;
  name: string;
  port?: number;
  protocol?: 'http1' | 'h2c';
  addresses: string[];
}

export interface RoutesFile {
  ingresses: object[];
  backends: Backend[];
  /** TLS Secrets, as sources/static.ts reads them. */
  secrets?: object[];
}

export interface GatewayProc extends Proc {
  externalPort: number;
  externalTlsPort: number;
  internalPort: number;
  internalTlsPort: number;
  adminPort: number;
  routesPath: string;
  /** Rewrites the routes file atomically and resolves once the gateway has swapped in the resulting table. */
  update(routes: RoutesFile): Promise<void>;
  /** Rewrites the routes file atomically (with anything in it, valid or not) without waiting. */
  rewrite(routes: RoutesFile): void;
}

function tracked(args: string[]): Proc {
  // Its info lines are how the harness knows the gateway started and swapped tables.
  const env = { ...process.env, PILOTLIGHT_LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [GATEWAY_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return track(child);
}

function writeAtomically(path: string, routes: RoutesFile): void {
  const body = {
    ...routes,
    backends: routes.backends.map((b) => ({ namespace: 'default', port: 80, protocol: 'http1', ...b })),
  };
  writeFileSync(`${path}.tmp`, stringify(body));
  renameSync(`${path}.tmp`, path);
}

export const tableSwaps = (proc: Proc): number =>
  proc.lines.filter((line) => line.message === 'routing table live').length;

export async function startGateway(routes: RoutesFile, flags: string[] = []): Promise<GatewayProc> {
  const dir = mkdtempSync(join(tmpdir(), 'pilotlight-gateway-'));
  const routesPath = join(dir, 'routes.yaml');
  writeAtomically(routesPath, routes);
  const proc = tracked([
    '--source',
    'static',
    '--routes-file',
    routesPath,
    '--bind',
    '127.0.0.1',
    '--external-port',
    '0',
    '--external-tls-port',
    '0',
    '--internal-port',
    '0',
    '--internal-tls-port',
    '0',
    '--admin-port',
    '0',
    '--debounce',
    '10ms',
    ...flags,
  ]);
  void proc.exited.then(() => rmSync(dir, { recursive: true, force: true }));
  // A gateway that never started is nobody's to stop later.
  const started = await waitForLine(proc, (line) => line.message === 'gateway started', 30_000).catch(
    async (error: unknown) => {
      await proc.stop(1000);
      throw error;
    },
  );
  return {
    ...proc,
    externalPort: started.externalPort as number,
    externalTlsPort: started.externalTlsPort as number,
    internalPort: started.internalPort as number,
    internalTlsPort: started.internalTlsPort as number,
    adminPort: started.adminPort as number,
    routesPath,
    rewrite: (next) => writeAtomically(routesPath, next),
    async update(next) {
      const before = tableSwaps(proc);
      writeAtomically(routesPath, next);
      await waitForLine(proc, () => tableSwaps(proc) > before);
    },
  };
}

type Path = {
  splits: object[];
  headers?: Record<string, { exact: string }>;
  appendHeaders?: Record<string, string>;
  rewriteHost?: string;
};

export const split = (revision: string, percent: number) => ({
  serviceNamespace: 'default',
  serviceName: revision,
  servicePort: 80,
  percent,
  appendHeaders: { 'Knative-Serving-Revision': revision, 'Knative-Serving-Namespace': 'default' },
});

/** A KIngress as the Route reconciler writes it: the route's hosts on both listeners, one rule each. */
export function ingress(
  name: string,
  rules: Array<{ hosts: string[]; visibility?: 'ExternalIP' | 'ClusterLocal'; paths: Path[] }>,
): object {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { namespace: 'default', name },
    spec: {
      rules: rules.map((r) => ({ hosts: r.hosts, visibility: r.visibility ?? 'ExternalIP', http: { paths: r.paths } })),
    },
  };
}

export interface Echo {
  method: string;
  path: string;
  httpVersion: string;
  headers: Record<string, string>;
  bodyLength: number;
}

/** GET through the gateway; the sample app's echo (or the gateway's own text) and the status. */
export async function get(
  dispatcher: Dispatcher,
  host: string,
  path = '/',
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  const res = await dispatcher.request({ path, method: 'GET', headers: { host, ...headers } });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

export const revisionOf = (text: string): string =>
  (JSON.parse(text) as Echo).headers['knative-serving-revision'] ?? '';
